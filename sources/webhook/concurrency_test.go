package webhook

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/pushscale/pushscale/store"
)

// Concurrent deltas to one stream are all applied, and each trigger sees
// its stream's levels in order.
func TestConcurrentPostsKeepOrder(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	e.watch(trig(keyB, map[string]string{"stream": "s"}, nil))
	const clients, each = 8, 200
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				if rr := e.postJSON("ns", "s", `{"delta": 1}`); rr.Code != http.StatusAccepted {
					t.Errorf("%d %s", rr.Code, rr.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	for _, k := range []store.Key{keyA, keyB} {
		got := e.sink.Records(k)
		if len(got) != clients*each+1 {
			t.Fatalf("%d records, want %d", len(got), clients*each+1)
		}
		for i, v := range got {
			if v != float64(i) {
				t.Fatalf("record %d is %g: out of order", i, v)
			}
		}
	}
}

// Watch, Unwatch, Restore, Levels, posts and the timers at once, for the
// race detector.
func TestConcurrentEverything(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 1e6})
	e.start()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			k := key(store.ScaledObject, "ns", "o"+strconv.Itoa(i), 0)
			for j := 0; ctx.Err() == nil; j++ {
				stream := "s" + strconv.Itoa(j%3)
				_ = e.src.Watch(trig(k, map[string]string{"stream": stream, "windowSeconds": strconv.Itoa(1 + j%5), "ttlSeconds": "3"}, nil))
				if j%7 == 0 {
					e.src.Unwatch(k)
				}
			}
		})
	}
	wg.Go(func() {
		for j := 0; ctx.Err() == nil; j++ {
			e.src.Restore([]Level{{Namespace: "ns", Stream: "s" + strconv.Itoa(j%3), Value: float64(j)}})
			_ = e.src.Levels()
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			e.clk.Step(300_000_000) // 0.3 s
		}
	})
	for j := range 1500 {
		stream := "s" + strconv.Itoa(j%3)
		if j%2 == 0 {
			e.postJSON("ns", stream, `{"delta": 1}`)
		} else {
			e.do(req{Path: path("ns", stream), Header: ceHeaders(nil)})
		}
		if j%10 == 0 {
			e.do(req{Method: http.MethodGet, Path: path("ns", stream)})
		}
	}
	cancel()
	wg.Wait()
}
