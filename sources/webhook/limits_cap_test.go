package webhook

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/store"
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

// TestStreamsPerNamespaceCap: a namespace cannot hold more than
// MaxStreamsPerNamespace streams (its saved levels must fit one ConfigMap);
// another namespace is not affected, and a freed stream frees a place.
func TestStreamsPerNamespaceCap(t *testing.T) {
	e := newEnv(t, Options{MaxStreamsPerNamespace: 2})
	e.watch(trig(key(store.ScaledObject, "ns", "a", 0), map[string]string{"stream": "s1"}, nil))
	e.watch(trig(key(store.ScaledObject, "ns", "b", 0), map[string]string{"stream": "s2"}, nil))
	// A second trigger on an existing stream is no new stream.
	e.watch(trig(key(store.ScaledObject, "ns", "c", 0), map[string]string{"stream": "s2"}, nil))
	third := key(store.ScaledObject, "ns", "d", 0)
	err := e.src.Watch(trig(third, map[string]string{"stream": "s3"}, nil))
	if err == nil || !strings.Contains(err.Error(), "--webhook-max-streams-per-namespace") || !strings.Contains(err.Error(), `"s3"`) {
		t.Fatalf("a third stream in ns: %v, want a refusal naming the flag and the stream", err)
	}
	if _, ok := e.sink.Value(third); ok {
		t.Error("a refused trigger got a value")
	}
	e.watch(trig(key(store.ScaledObject, "other", "x", 0), map[string]string{"stream": "s3"}, nil))
	// s1 had no level: unwatching drops it at once, and its place is free.
	e.src.Unwatch(key(store.ScaledObject, "ns", "a", 0))
	e.watch(trig(third, map[string]string{"stream": "s3"}, nil))
}
