package webhook

import (
	"net/http"
	"strings"
	"testing"
)

func batchOf(n int, bad int) string {
	const ev = `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	evs := make([]string, n)
	for i := range evs {
		evs[i] = ev
		if i == bad {
			evs[i] = `{"specversion":"1.0"`
		}
	}
	return "[" + strings.Join(evs, ",") + "]"
}

// TestBatchEventLimit is issue 10 item 2: a batch over MaxBatchEvents is
// refused with 413 naming the maximum, and decoding stops there: an error
// after the limit is never reached.
func TestBatchEventLimit(t *testing.T) {
	e := newEnv(t, Options{MaxBatchEvents: 100})
	e.watch(trig(keyA, map[string]string{"stream": "s", "allowUnauthenticated": "true"}, nil))
	post := func(body string) (int, string) {
		rr := e.do(req{Path: path("ns", "s"), Header: map[string]string{"Content-Type": "application/cloudevents-batch+json"}, Body: body})
		if rr.Code >= 300 {
			return rr.Code, errorBody(t, rr)
		}
		return rr.Code, ""
	}
	if code, msg := post(batchOf(100, -1)); code != http.StatusAccepted {
		t.Fatalf("100 events: %d %s", code, msg)
	}
	code, msg := post(batchOf(101, -1))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "more than 100 events") {
		t.Fatalf("101 events: %d %q, want 413 naming the maximum 100", code, msg)
	}
	// The malformed event 150 lies beyond the limit: never decoded.
	if code, msg := post(batchOf(300, 150)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("300 events, a bad one after the limit: %d %q, want 413", code, msg)
	}
	if code, msg := post(batchOf(50, 20)); code != http.StatusBadRequest || !strings.Contains(msg, "event 20") {
		t.Fatalf("a bad event within the limit: %d %q, want 400 naming event 20", code, msg)
	}
	if code, msg := post(batchOf(2, -1) + "[]"); code != http.StatusBadRequest {
		t.Fatalf("data after the batch: %d %q, want 400", code, msg)
	}
	if v, _ := e.sink.Value(keyA); v != 100 {
		t.Errorf("level %g, want the 100 arrivals of the one accepted batch", v)
	}
}
