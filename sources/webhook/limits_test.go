package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"
)

// stalledBody yields a few bytes and then blocks until release is closed:
// a client that declared a large Content-Length and sends slowly.
type stalledBody struct {
	first   []byte
	sent    chan struct{}
	release chan struct{}
	once    sync.Once
}

func newStalledBody(first string, release chan struct{}) *stalledBody {
	return &stalledBody{first: []byte(first), sent: make(chan struct{}), release: release}
}

func (b *stalledBody) Read(p []byte) (int, error) {
	if len(b.first) > 0 {
		n := copy(p, b.first)
		b.first = b.first[n:]
		return n, nil
	}
	b.once.Do(func() { close(b.sent) })
	<-b.release
	return 0, io.ErrUnexpectedEOF
}

func (b *stalledBody) Close() error { return nil }

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// startStalled starts n POSTs to ns/s that declare a 1 MiB body, send a few
// bytes and stall, and returns once all are stalled; release ends them and
// done closes when every request is answered.
func startStalled(t *testing.T, e *env, n int, release chan struct{}) (codes chan int) {
	t.Helper()
	codes = make(chan int, n)
	for range n {
		body := newStalledBody(`{"value":`, release)
		r := httptest.NewRequest(http.MethodPost, path("ns", "s"), nil)
		r.Body, r.ContentLength = body, 1<<20
		r.Header.Set("Content-Type", jsonCT)
		r.Header.Set("Content-Length", strconv.Itoa(1<<20))
		go func() {
			rr := httptest.NewRecorder()
			e.h.ServeHTTP(rr, r)
			codes <- rr.Code
		}()
		select {
		case <-body.sent:
		case code := <-codes:
			codes <- code
		case <-time.After(5 * time.Second):
			t.Fatal("a stalled request neither stalled nor finished")
		}
	}
	return codes
}

// TestSlowBodiesHoldWhatArrived is issue 10 item 1: a request that declares
// a 1 MiB body holds memory for what it sent, not for what it declared.
func TestSlowBodiesHoldWhatArrived(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "allowUnauthenticated": "true"}, nil))
	before := heapInUse()
	release := make(chan struct{})
	const n = 50
	codes := startStalled(t, e, n, release)
	grown := int64(heapInUse()) - int64(before)
	close(release)
	for range n {
		<-codes
	}
	if grown > 8<<20 {
		t.Fatalf("%d stalled requests that sent 9 bytes each hold %d MiB", n, grown>>20)
	}
}
