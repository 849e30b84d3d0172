#!/usr/bin/env bash
# Installs what the tests and the demo need and this machine lacks, from
# Debian's packages. Go modules and the control plane binaries are fetched
# and built by Go itself (see e2e/controlplane). Go tests never call a
# package manager; this script is the only place that does.
set -euo pipefail

need=()
command -v redis-server   >/dev/null 2>&1 || need+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need+=(redis-sentinel)
command -v rabbitmq-server >/dev/null 2>&1 || [ -x /usr/sbin/rabbitmq-server ] || need+=(rabbitmq-server)
# postgresql, mariadb-server: the postgresql and mysql sources' tests start
# their own servers (initdb + postgres, mariadb-install-db + mariadbd) as an
# unprivileged user on free ports; the packages' own services are not used.
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || command -v postgres >/dev/null 2>&1 || need+=(postgresql)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
# wrk: the bench's load generator in a process of its own.
command -v wrk            >/dev/null 2>&1 || need+=(wrk)
# protoc: api/externalscaler's generated code is checked against it.
command -v protoc         >/dev/null 2>&1 || need+=(protobuf-compiler)

if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go 1.26 or newer is required (https://go.dev/dl/); it is not on PATH" >&2
  exit 1
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "deps: all present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing ${need[*]}; install these Debian packages (as root: apt-get install ${need[*]})" >&2
  exit 1
fi

echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts services on install where it can; the tests start their own
# on free ports and never use the default ones.
echo "deps: installed ${need[*]}"
