package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pushscale/pushscale/store"
)

// arrive posts n binary-mode CloudEvents without value data.
func (e *env) arrive(ns, stream string, n int) {
	e.t.Helper()
	for i := range n {
		rr := e.do(req{Path: path(ns, stream), Header: ceHeaders(map[string]string{"Ce-Id": strconv.Itoa(i)})})
		if rr.Code != http.StatusAccepted {
			e.t.Fatalf("arrival: %d %s", rr.Code, rr.Body)
		}
	}
}

func TestWindowDecay(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "windowSeconds": "10"}, nil))
	e.start()

	e.arrive("ns", "s", 3) // at t0
	e.step(4 * time.Second)
	e.arrive("ns", "s", 2) // at t0+4s
	if v := e.get("ns", "s", nil); v != 5 {
		t.Fatalf("level %g, want 5", v)
	}
	e.step(6 * time.Second) // t0+10s: the first three leave the window
	e.sink.AwaitValue(t, keyA, 2)
	if v := e.get("ns", "s", nil); v != 2 {
		t.Errorf("GET %g, want 2", v)
	}
	e.step(3 * time.Second) // t0+13s: nothing leaves
	e.step(time.Second)     // t0+14s: the last two leave
	e.sink.AwaitValue(t, keyA, 0)

	want := []float64{0, 1, 2, 3, 4, 5, 2, 0}
	if got := e.sink.Records(keyA); !equalFloats(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
}

func TestWindowPerTrigger(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "windowSeconds": "5"}, nil))
	e.watch(trig(keyB, map[string]string{"stream": "s", "windowSeconds": "20"}, nil))
	e.start()

	e.arrive("ns", "s", 2)
	if a, b := value(e, keyA), value(e, keyB); a != 2 || b != 2 {
		t.Fatalf("levels %g and %g, want 2 and 2", a, b)
	}
	e.step(5 * time.Second)
	e.sink.AwaitValue(t, keyA, 0)
	if b := value(e, keyB); b != 2 {
		t.Errorf("the 20 s window lost its arrivals after 5 s: %g", b)
	}
	if v := e.get("ns", "s", nil); v != 2 {
		t.Errorf("GET answers the longest window: %g, want 2", v)
	}
	e.step(15 * time.Second)
	e.sink.AwaitValue(t, keyB, 0)
}

func TestValueClearsArrivals(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	e.start()
	e.arrive("ns", "s", 3)
	if rr := e.postJSON("ns", "s", `{"delta": 2}`); rr.Code != 202 {
		t.Fatal(rr.Body)
	}
	if v := value(e, keyA); v != 5 {
		t.Fatalf("arrivals plus delta: %g, want 5", v)
	}
	e.step(time.Minute) // the arrivals leave; the delta stays
	e.sink.AwaitValue(t, keyA, 2)
	e.arrive("ns", "s", 1)
	e.postJSON("ns", "s", `{"value": 4}`)
	if v := value(e, keyA); v != 4 {
		t.Errorf("after value 4: %g", v)
	}
}

func TestTTL(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "ttlSeconds": "30"}, nil))
	e.start()

	e.postJSON("ns", "s", `{"value": 5}`) // t0
	e.step(20 * time.Second)
	e.postJSON("ns", "s", `{"delta": 1}`) // t0+20s: the TTL starts again
	e.step(20 * time.Second)              // t0+40s: 20 s since the last event
	e.step(10 * time.Second)              // t0+50s: 30 s
	e.sink.AwaitValue(t, keyA, 0)
	if v := e.get("ns", "s", nil); v != 0 {
		t.Errorf("GET %g after the TTL, want 0", v)
	}
	if got, want := e.sink.Records(keyA), []float64{0, 5, 6, 0}; !equalFloats(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	// The stream still takes events afterwards.
	if rr := e.postJSON("ns", "s", `{"delta": 2}`); rr.Code != 202 {
		t.Fatal(rr.Body)
	}
	if v := value(e, keyA); v != 2 {
		t.Errorf("after the TTL, delta 2 gives %g, want 2", v)
	}
}

func TestTTLAppliesWithoutStart(t *testing.T) {
	// Without the timer, the next event still sees that the TTL ran out.
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "ttlSeconds": "30"}, nil))
	e.postJSON("ns", "s", `{"value": 5}`)
	e.clk.Step(31 * time.Second)
	if v := e.get("ns", "s", nil); v != 0 {
		t.Errorf("GET %g, want 0", v)
	}
	if rr := e.postJSON("ns", "s", `{"delta": 1}`); rr.Code != 202 {
		t.Fatal(rr.Body)
	}
	if v := value(e, keyA); v != 1 {
		t.Errorf("delta after the TTL gives %g, want 1", v)
	}
}

func TestShortestTTLOfAStreamWins(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	e.watch(trig(keyB, map[string]string{"stream": "s", "ttlSeconds": "10"}, nil))
	e.start()
	e.postJSON("ns", "s", `{"value": 5}`)
	e.step(10 * time.Second)
	e.sink.AwaitValue(t, keyA, 0)
	e.sink.AwaitValue(t, keyB, 0)
}

func TestArrivalsMemoryIsBounded(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "windowSeconds": "5"}, nil))
	for range 100 {
		e.arrive("ns", "s", 1)
		e.clk.Step(time.Second)
	}
	st := e.src.streams[streamKey{"ns", "s"}]
	st.mu.Lock()
	n := len(st.arr.b)
	st.mu.Unlock()
	if n > 5 {
		t.Errorf("%d buckets kept for a 5 s window", n)
	}
	if n := e.src.sched.len(); n > 1 {
		t.Errorf("%d schedule entries for one stream", n)
	}
	if v := value(e, keyA); v != 5 {
		t.Errorf("level %g, want 5", v)
	}
}

func value(e *env, k store.Key) float64 {
	e.t.Helper()
	v, _ := e.sink.Value(k)
	return v
}
