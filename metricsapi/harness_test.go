package metricsapi

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// running is a Server started by startServer.
type running struct {
	srv  *Server
	stop func() error // cancels Start and returns its error
}

// startServer starts a Server for opts on 127.0.0.1:0 and waits until it
// serves. The server is stopped at the end of the test if the test
// has not stopped it.
func startServer(t *testing.T, opts Options, values Values) running {
	t.Helper()
	opts.Addr = "127.0.0.1:0"
	srv, err := New(opts, values)
	if err != nil {
		t.Fatalf("New() error = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Start(ctx) }()
	stop := sync.OnceValue(func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return errors.New("Start did not return 30s after cancel")
		}
	})
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Start() = %v", err)
		}
	})
	for deadline := time.Now().Add(10 * time.Second); srv.Addr() == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Start did not serve within 10s")
		}
	}
	return running{srv: srv, stop: stop}
}

// client is how a request reaches the server.
type client struct {
	cert    *tls.Certificate  // TLS client certificate
	headers map[string]string // request headers
}

func (c client) get(t *testing.T, addr, path string) (int, []byte, *tls.ConnectionState) {
	t.Helper()
	cfg := &tls.Config{InsecureSkipVerify: true} // self-signed serving certificate
	if c.cert != nil {
		cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// As client-go does for the aggregator: send the certificate
			// whatever CAs the server names.
			return c.cert, nil
		}
	}
	transport := &http.Transport{TLSClientConfig: cfg}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequest(http.MethodGet, "https://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: transport, Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, body, resp.TLS
}

// waitFor polls cond until it holds, for at most 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}

// libraryGoroutines are goroutines the library never stops, by a function
// on their stack. healthz.LogHealthz starts one klog flusher per process, on
// the first health check served, and lets it run forever.
var libraryGoroutines = []string{"k8s.io/apiserver/pkg/server/healthz.(*log).Check"}

// goroutines returns the stacks of the running goroutines less
// libraryGoroutines and those with any of also on their stack.
func goroutines(also ...string) []string {
	ignored := append(slices.Clone(libraryGoroutines), also...)
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var stacks []string
	for _, stack := range strings.Split(string(buf), "\n\n") {
		if !slices.ContainsFunc(ignored, func(fn string) bool { return strings.Contains(stack, fn) }) {
			stacks = append(stacks, stack)
		}
	}
	return stacks
}

// checkGoroutines waits up to 5s for the number of goroutines, less those
// with any of also on their stack, to fall back to before (a
// len(goroutines()) taken before the server started) and reports those left
// over.
func checkGoroutines(t *testing.T, before int, also ...string) {
	t.Helper()
	stacks := goroutines(also...)
	for deadline := time.Now().Add(5 * time.Second); len(stacks) > before && time.Now().Before(deadline); stacks = goroutines(also...) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(stacks) > before {
		t.Errorf("%d goroutines before Start, %d after it returned:\n%s", before, len(stacks), strings.Join(stacks, "\n\n"))
	}
}
