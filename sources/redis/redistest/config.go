package redistest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// dataConfig is the configuration every redis-server of a topology shares.
type dataConfig struct {
	notify        string   // --notify-keyspace-events, "" to leave the default
	password      string   // --requirepass and --masterauth
	acls          []string // one --user per line
	disableConfig bool     // --rename-command CONFIG "", as managed services do
	extra         []string // more options, as given
}

func (c dataConfig) validate() error {
	for i, line := range c.acls {
		if len(strings.Fields(line)) == 0 {
			return fmt.Errorf("redistest: ACLs[%d] %q: must name a user", i, line)
		}
	}
	return nil
}

// args returns the command-line builder of a redis-server, for node.args,
// with extra options (built once the folder and port are known) appended.
// Each ACL line is split on spaces, since redis-server quotes every
// argument it is given: a password cannot contain a space.
func (c dataConfig) args(extra func(dir string, port int) []string) func(dir string, port int) ([]string, error) {
	return func(dir string, port int) ([]string, error) {
		a := []string{
			"--bind", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			// A replica's first sync would otherwise wait 5 s for others
			// to join the same transfer.
			"--repl-diskless-sync-delay", "0",
		}
		if c.notify != "" {
			a = append(a, "--notify-keyspace-events", c.notify)
		}
		if c.password != "" {
			// masterauth lets a replica (or a demoted master) sync.
			a = append(a, "--requirepass", c.password, "--masterauth", c.password)
		}
		for _, line := range c.acls {
			a = append(a, "--user")
			a = append(a, strings.Fields(line)...)
		}
		if c.disableConfig {
			a = append(a, "--rename-command", "CONFIG", "")
		}
		a = append(a, c.extra...)
		if extra != nil {
			a = append(a, extra(dir, port)...)
		}
		return a, nil
	}
}

// rootDir returns the folder for a topology's files: tb.TempDir() when tb
// is set, else a new temporary folder that the caller must remove.
func rootDir(tb testing.TB) (dir string, owned bool, err error) {
	if tb != nil {
		return tb.TempDir(), false, nil
	}
	dir, err = os.MkdirTemp("", "redistest-")
	if err != nil {
		return "", false, fmt.Errorf("redistest: %w", err)
	}
	return dir, true, nil
}
