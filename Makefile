# pushscale — see README.md.
GO      ?= go
E2E_TIMEOUT ?= 60m
UNIT_PKGS = $(shell $(GO) list ./... | grep -v '/e2e$$')

.PHONY: all deps build test unit e2e cluster demo bench generate vet fmt fuzz image chart chart-sync chart-test

all: build

deps:
	@scripts/deps.sh

build:
	$(GO) build ./...

# The README's test command: everything, race detector on.
test: deps vet
	$(GO) test -race -count=1 $(UNIT_PKGS)
	$(MAKE) chart-test
	$(GO) test -race -count=1 -timeout $(E2E_TIMEOUT) ./e2e/
	$(GO) run ./bench -smoke

unit:
	$(GO) test -race -count=1 $(UNIT_PKGS)

e2e: deps
	$(GO) test -race -count=1 -timeout $(E2E_TIMEOUT) -v ./e2e/

vet:
	$(GO) vet ./...
	cd $(CHART_TEST) && $(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# A local control plane until Ctrl-C (prints the kubeconfig and kubectl paths).
cluster:
	$(GO) run ./e2e/cmd/cluster

demo: deps
	$(GO) run ./e2e/cmd/demo

# Figures against DESIGN.md's targets: webhook, Redis push versus polling,
# memory (about 20 minutes on 2 cores); BENCH_FLAGS=-smoke for a short
# check, BENCH_FLAGS="-only redis" for some parts, `go run ./bench -h`. -save keeps
# the report in bench/results/<date>-<parts>.txt when the run is a result (see the
# load rule in bench/load.go).
bench: deps
	$(GO) run ./bench -save $(BENCH_FLAGS)

# Go native fuzzing of every parser of untrusted input, one target after the
# other for FUZZTIME each (the seeds in testdata/fuzz run in every `go test`;
# a crash found here is written there: commit it as a new seed).
FUZZTIME ?= 30s
FUZZ_PKGS ?= ./sources/webhook/ ./sources/redis/ ./sources/kafka/ ./sources/natsjetstream/ ./sources/rabbitmq/ ./sources/external/ ./companion/ ./sources/cron/ ./sources/prometheus/ ./sources/metricsapi/ ./sources/postgresql/ ./sources/etcd/ ./sources/mysql/
fuzz:
	@for pkg in $(FUZZ_PKGS); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$target for $(FUZZTIME)"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

generate:
	$(GO) generate ./api/...
	$(MAKE) chart-sync

# The Helm chart (charts/pushscale) is tested in a module of its own
# (charts/pushscale/test: the Helm library and its Kubernetes versions stay
# out of this module; `go vet ./...` and `go list ./...` here do not
# descend into it).
CHART_TEST = charts/pushscale/test

# Copies manifests/crds into the chart's templates/crds (guarded by
# crds.install, kept on uninstall) and manifests/monitoring/dashboards into
# its dashboards/, then rewrites the golden renders testdata/default.yaml
# and testdata/all.yaml. Run after `make generate` or a dashboard change;
# the chart's tests fail until then. Review the golden files' diff.
chart: chart-sync
	cd $(CHART_TEST) && $(GO) test -count=1 -run '^TestGolden$$' . -update

# The copies alone (standard library only: quick).
chart-sync:
	cd $(CHART_TEST) && $(GO) run ./cmd/chartsync -root ../../..

# Renders the chart with the Helm Go library and checks it against
# manifests/ and the golden files.
chart-test:
	cd $(CHART_TEST) && $(GO) test -count=1 ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# The container image (Dockerfile), where a container engine answers.
VERSION ?= dev
image:
	@docker info >/dev/null 2>&1 || { echo "make image: no container engine answers 'docker info'"; exit 1; }
	docker build --build-arg VERSION=$(VERSION) -t pushscale:$(VERSION) .
