package redistest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// ServerOptions configure StartServer and NewServer. The zero value is a
// server without a password that sends no keyspace notifications.
type ServerOptions struct {
	// NotifyKeyspaceEvents is passed as --notify-keyspace-events, for
	// example "KEA" or "Kl"; empty keeps Redis's default (none).
	NotifyKeyspaceEvents string
	// Password protects the default user (--requirepass). Client and the
	// readiness checks authenticate with it.
	Password string
	// ACLs are extra users, one line each in the --user / ACL SETUSER
	// syntax, for example "alice on >secret ~* &* +@all". Fields are split
	// on spaces, so a password in a line cannot contain one.
	ACLs []string
	// DisableConfig renames the CONFIG command away (--rename-command
	// CONFIG ""), as managed Redis services do: CONFIG GET and SET fail
	// with an unknown-command error.
	DisableConfig bool
	// Args are more redis-server options, for example
	// []string{"--tracking-table-max-keys", "10"}.
	Args []string
}

// Server is one redis-server on 127.0.0.1. Its methods are safe for
// concurrent use.
type Server struct {
	node  *node
	root  string
	owned bool // root was created by NewServer and is removed by Close

	mu     sync.Mutex
	client *redis.Client // created by the first Client call
}

// StartServer starts a redis-server on a free loopback port and returns
// once it answers PING. It fails tb on error; the server is closed when
// the test ends, and its log is printed if the test failed.
func StartServer(tb testing.TB, opts ServerOptions) *Server {
	tb.Helper()
	s, err := newServer(tb.Context(), tb, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("redistest: server %s: %s", s.Addr(), s.node.logTail())
		}
		s.Close()
	})
	return s
}

// NewServer is StartServer for code without a testing.TB: the caller must
// call Close. Its files go to a new temporary folder that Close removes.
func NewServer(ctx context.Context, opts ServerOptions) (*Server, error) {
	return newServer(ctx, nil, opts)
}

func newServer(ctx context.Context, tb testing.TB, opts ServerOptions) (*Server, error) {
	cfg := dataConfig{notify: opts.NotifyKeyspaceEvents, password: opts.Password, acls: opts.ACLs,
		disableConfig: opts.DisableConfig, extra: opts.Args}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	root, owned, err := rootDir(tb)
	if err != nil {
		return nil, err
	}
	s := &Server{root: root, owned: owned}
	s.node, err = newNode(root, "redis", "redis-server", opts.Password, cfg.args(nil))
	if err == nil {
		err = s.node.start(ctx)
	}
	if err != nil {
		if s.node != nil {
			err = withLogs(err, s.node)
		}
		s.Close()
		return nil, err
	}
	return s, nil
}

// Addr returns the server's address, "127.0.0.1:port". It does not change
// across Restart.
func (s *Server) Addr() string { return s.node.addr() }

// Pid returns the process id of the running (or last) redis-server.
func (s *Server) Pid() int { return s.node.pid() }

// Client returns a client of the server, authenticated as the default
// user. It is shared: callers must not close it (Close does). It survives
// Stop and Restart, reconnecting on its next command.
func (s *Server) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewClient(&redis.Options{Addr: s.Addr(), Password: s.node.password})
	}
	return s.client
}

// Stop stops the server (SIGTERM, then SIGKILL after a few seconds) and
// waits for it to exit, to simulate an outage. Clients see their
// connections closed and new ones refused until Restart.
func (s *Server) Stop() { s.node.stop(stopGrace) }

// Restart starts the server again on the same port with the same
// configuration and returns once it answers PING; it does nothing while
// the server runs. The new server is empty: nothing is persisted, so data
// written before Stop is lost, and what a test writes after Restart is
// what the new server holds.
func (s *Server) Restart() error {
	if err := s.node.restart(context.Background()); err != nil {
		return withLogs(err, s.node)
	}
	return nil
}

// Close kills the server, closes Client and, for a server from NewServer,
// removes its files. The Server cannot be restarted afterwards.
func (s *Server) Close() {
	if s.node != nil {
		s.node.close()
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	if s.owned {
		_ = os.RemoveAll(s.root)
	}
}
