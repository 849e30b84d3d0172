package sourcetest

import (
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"
)

// HTTPServer is an HTTP peer for the tests of polled HTTP sources
// (prometheus, metrics-api): it serves a handler on 127.0.0.1 at a port
// chosen once, and can be stopped and started again on the same port (a
// peer restart). It is safe for concurrent use.
type HTTPServer struct {
	handler http.Handler
	addr    string

	mu  sync.Mutex
	srv *http.Server
}

// StartHTTP serves h on a free port of 127.0.0.1 until t ends.
func StartHTTP(t testing.TB, h http.Handler) *HTTPServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &HTTPServer{handler: h, addr: l.Addr().String()}
	s.serve(l)
	t.Cleanup(s.Stop)
	return s
}

// URL is http://<addr>.
func (s *HTTPServer) URL() string { return "http://" + s.addr }

// Addr is host:port.
func (s *HTTPServer) Addr() string { return s.addr }

func (s *HTTPServer) serve(l net.Listener) {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

// Stop closes the listener and every connection. Stopping a stopped
// server does nothing.
func (s *HTTPServer) Stop() {
	s.mu.Lock()
	srv := s.srv
	s.srv = nil
	s.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart serves again on the same port, trying for a few seconds while
// the port is still held.
func (s *HTTPServer) Restart() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := net.Listen("tcp", s.addr)
		if err == nil {
			s.serve(l)
			return nil
		}
		if time.Now().After(deadline) {
			return errors.Join(errors.New("sourcetest: restart on "+s.addr), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
