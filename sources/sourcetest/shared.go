package sourcetest

import (
	"os"
	"sync"
	"testing"
)

// Shared is a test server that the tests of a package share: the first
// test that needs it starts it, and the package's TestMain closes it after
// every test has run. It is safe for concurrent use.
type Shared[S interface{ Close() }] struct {
	start   func() (S, error)
	once    sync.Once
	srv     S
	err     error
	started bool
}

// NewShared returns a Shared server that start starts.
func NewShared[S interface{ Close() }](start func() (S, error)) *Shared[S] {
	return &Shared[S]{start: start}
}

// Get returns the server, started by the first call; it fails t when the
// server could not be started.
func (s *Shared[S]) Get(t testing.TB) S {
	t.Helper()
	s.once.Do(func() {
		s.srv, s.err = s.start()
		s.started = s.err == nil
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.srv
}

// Started returns the server that start starts, closed when tb ends; an
// error fails tb. A test server's package offers it as Start(tb).
func Started[S interface{ Close() }](tb testing.TB, start func() (S, error)) S {
	tb.Helper()
	s, err := start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Main is a package's TestMain: it runs the tests, closes the server if
// one started, and exits with the tests' code.
func (s *Shared[S]) Main(m *testing.M) {
	code := m.Run()
	if s.started {
		s.srv.Close()
	}
	os.Exit(code)
}
