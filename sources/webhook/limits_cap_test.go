package webhook

import (
	"net/http"
	"testing"
)

// TestInFlightCap: requests beyond MaxInFlight are answered 503 at once,
// retryable, and work again once the others finish.
func TestInFlightCap(t *testing.T) {
	e := newEnv(t, Options{MaxInFlight: 3})
	e.watch(trig(keyA, map[string]string{"stream": "s", "allowUnauthenticated": "true"}, nil))
	release := make(chan struct{})
	codes := startStalled(t, e, 3, release)
	rr := e.postJSON("ns", "s", `{"value":1}`)
	if rr.Code != http.StatusServiceUnavailable || rr.Header().Get("Retry-After") == "" {
		t.Fatalf("over the in-flight cap: %d %s (Retry-After %q), want 503 with Retry-After", rr.Code, rr.Body, rr.Header().Get("Retry-After"))
	}
	close(release)
	for range 3 {
		<-codes
	}
	if rr := e.postJSON("ns", "s", `{"value":1}`); rr.Code != http.StatusAccepted {
		t.Fatalf("after the others finished: %d %s", rr.Code, rr.Body)
	}
}

// TestBufferedBytesCap: bodies are refused (503, retryable) when the bytes
// all requests hold would pass MaxBufferedBytes, and the budget comes back.
func TestBufferedBytesCap(t *testing.T) {
	e := newEnv(t, Options{MaxBufferedBytes: 4 << 10})
	e.watch(trig(keyA, map[string]string{"stream": "s", "allowUnauthenticated": "true"}, nil))
	release := make(chan struct{})
	codes := startStalled(t, e, 8, release) // 8 × 512 bytes: the budget
	rr := e.postJSON("ns", "s", `{"value":1}`)
	if rr.Code != http.StatusServiceUnavailable {
		t.Fatalf("over the buffered-bytes cap: %d %s, want 503", rr.Code, rr.Body)
	}
	close(release)
	for range 8 {
		<-codes
	}
	if got := e.src.buffered.Load(); got != 0 {
		t.Fatalf("%d bytes still reserved after every request ended", got)
	}
	if rr := e.postJSON("ns", "s", `{"value":1}`); rr.Code != http.StatusAccepted {
		t.Fatalf("after the others finished: %d %s", rr.Code, rr.Body)
	}
}
