package webhook

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

func TestConformance(t *testing.T) {
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source {
		return New(d.Sink, Options{})
	}, trig(keyA, map[string]string{"stream": "s", "ttlSeconds": "60", "signatureHeader": "X-Hub-Signature-256"},
		map[string]string{"token": testToken, "hmacSecret": testSecret}))
}

func TestWatchRecordsAtOnce(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	if v, ok := e.sink.Value(keyA); !ok || v != 0 {
		t.Errorf("a new stream: recorded %g (%v), want 0: the webhook is the source of truth", v, ok)
	}
	p, ok := e.sink.Push(keyA)
	if !ok || !p.Healthy || p.Reason != "Subscribed" || p.Message == "" {
		t.Errorf("push %+v (%v), want healthy, Subscribed", p, ok)
	}
	e.postJSON("ns", "s", `{"value": 6}`)
	e.watch(trig(keyB, map[string]string{"stream": "s"}, nil))
	if v, _ := e.sink.Value(keyB); v != 6 {
		t.Errorf("a trigger joining a stream at 6: recorded %g", v)
	}
}

func TestFanOut(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil)) // ScaledObject ns/a
	e.watch(trig(keyB, map[string]string{"stream": "s"}, nil)) // ScaledJob ns/b
	e.watch(trig(keyC, map[string]string{"stream": "s"}, nil)) // ScaledObject other/c
	for _, body := range []string{`{"value": 2}`, `{"delta": 3}`} {
		if rr := e.postJSON("ns", "s", body); rr.Code != 202 {
			t.Fatal(rr.Body)
		}
	}
	for _, k := range []store.Key{keyA, keyB} {
		if got := e.sink.Records(k); !equalFloats(got, []float64{0, 2, 5}) {
			t.Errorf("%s/%s: records %v, want [0 2 5]", k.Kind, k.Name, got)
		}
	}
	if got := e.sink.Records(keyC); !equalFloats(got, []float64{0}) {
		t.Errorf("the same stream name in another namespace got %v", got)
	}
}

func TestUnwatch(t *testing.T) {
	e := newEnv(t, Options{Retention: time.Minute})
	e.start()
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	e.watch(trig(keyB, map[string]string{"stream": "s"}, nil))
	e.postJSON("ns", "s", `{"value": 7}`)

	e.src.Unwatch(keyA)
	e.src.Unwatch(keyA) // unknown keys are ignored
	e.postJSON("ns", "s", `{"value": 8}`)
	if got := e.sink.Records(keyA); !equalFloats(got, []float64{0, 7}) {
		t.Errorf("an unwatched trigger was recorded: %v", got)
	}

	e.src.Unwatch(keyB)
	if rr := e.postJSON("ns", "s", `{"value": 9}`); rr.Code != 404 {
		t.Fatalf("POST to a stream nobody watches: %d", rr.Code)
	}
	if got := e.src.Levels(); len(got) != 1 || got[0].Value != 8 {
		t.Errorf("Levels %v, want the retained 8", got)
	}
	// A trigger that watches it again within the retention resumes.
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	if v := value(e, keyA); v != 8 {
		t.Errorf("watched again: %g, want 8", v)
	}
	e.src.Unwatch(keyA)
	e.step(time.Minute)
	deadline := time.Now().Add(sourcetest.WaitTimeout)
	for len(e.src.Levels()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("retained level never dropped: %v", e.src.Levels())
		}
		time.Sleep(time.Millisecond)
	}
	e.watch(trig(keyB, map[string]string{"stream": "s"}, nil))
	if v := value(e, keyB); v != 0 {
		t.Errorf("watched after the retention: %g, want 0", v)
	}
}

func TestWatchMovesTrigger(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "old"}, nil))
	e.watch(trig(keyA, map[string]string{"stream": "new"}, nil))
	if rr := e.postJSON("ns", "old", `{"value": 1}`); rr.Code != 404 {
		t.Errorf("old stream: %d", rr.Code)
	}
	if rr := e.postJSON("ns", "new", `{"value": 2}`); rr.Code != 202 {
		t.Errorf("new stream: %d", rr.Code)
	}
	if got := e.sink.Records(keyA); !equalFloats(got, []float64{0, 0, 2}) {
		t.Errorf("records %v", got)
	}
	// An invalid trigger is no longer watched.
	if err := e.src.Watch(trig(keyA, map[string]string{"stream": "new", "targetValue": "x"}, nil)); err == nil {
		t.Fatal("Watch of an invalid trigger succeeded")
	}
	if rr := e.postJSON("ns", "new", `{"value": 3}`); rr.Code != 404 {
		t.Errorf("stream of an invalid trigger: %d", rr.Code)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 1, RateBurst: 2})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	e.watch(trig(keyB, map[string]string{"stream": "t"}, nil))
	for i, want := range []int{202, 202, 429} {
		if rr := e.postJSON("ns", "s", `{"delta": 1}`); rr.Code != want {
			t.Fatalf("request %d: %d, want %d", i, rr.Code, want)
		}
	}
	rr := e.postJSON("ns", "s", `{"delta": 1}`)
	if rr.Code != 429 || rr.Header().Get("Retry-After") != "1" {
		t.Fatalf("%d Retry-After %q", rr.Code, rr.Header().Get("Retry-After"))
	}
	errorBody(t, rr)
	if v := value(e, keyA); v != 2 {
		t.Errorf("a rate-limited request changed the level: %g", v)
	}
	if got := e.counter("rejected", "rate_limited"); got != 2 {
		t.Errorf("rate_limited %g, want 2", got)
	}
	// Another stream has its own bucket.
	if rr := e.postJSON("ns", "t", `{"delta": 1}`); rr.Code != 202 {
		t.Errorf("another stream: %d", rr.Code)
	}
	e.clk.Step(time.Second)
	if rr := e.postJSON("ns", "s", `{"delta": 1}`); rr.Code != 202 {
		t.Errorf("after a second: %d", rr.Code)
	}
	batch := `[{"specversion":"1.0","id":"1","source":"/s","type":"t"},{"specversion":"1.0","id":"2","source":"/s","type":"t"},{"specversion":"1.0","id":"3","source":"/s","type":"t"}]`
	rr = e.do(req{Path: path("ns", "t"), Header: map[string]string{"Content-Type": "application/cloudevents-batch+json"}, Body: batch})
	if rr.Code != 413 {
		t.Errorf("a batch larger than the burst: %d", rr.Code)
	}
}

func TestRestoreAndLevels(t *testing.T) {
	e := newEnv(t, Options{})
	e.src.Restore([]Level{
		{Namespace: "ns", Stream: "early", Value: 4, At: t0.Add(-time.Hour)},
		{Namespace: "ns", Stream: "late", Value: 5},
		{Namespace: "ns", Stream: "posted", Value: 6},
		{Namespace: "ns", Stream: "Bad Name", Value: 1},
		{Namespace: "ns", Stream: "neg", Value: -1},
		{Namespace: "ns", Stream: "zero", Value: 0},
	})
	// Restored before the watch.
	e.watch(trig(keyA, map[string]string{"stream": "early"}, nil))
	if v := value(e, keyA); v != 4 {
		t.Errorf("restored before Watch: %g, want 4", v)
	}
	// Restored after the watch, before any event.
	kLate := key(store.ScaledObject, "ns", "late", 0)
	e.watch(trig(kLate, map[string]string{"stream": "late"}, nil))
	kPosted := key(store.ScaledObject, "ns", "posted", 0)
	e.watch(trig(kPosted, map[string]string{"stream": "posted"}, nil))
	e.postJSON("ns", "posted", `{"value": 1}`)
	e.src.Restore([]Level{{Namespace: "ns", Stream: "late", Value: 5}, {Namespace: "ns", Stream: "posted", Value: 6}})
	if v := value(e, kLate); v != 5 {
		t.Errorf("restored after Watch: %g, want 5", v)
	}
	if v := value(e, kPosted); v != 1 {
		t.Errorf("a live level was overwritten by a restore: %g, want 1", v)
	}

	want := []Level{
		{Namespace: "ns", Stream: "early", Value: 4, At: t0.Add(-time.Hour)},
		{Namespace: "ns", Stream: "late", Value: 5, At: t0},
		{Namespace: "ns", Stream: "posted", Value: 1, At: t0},
	}
	if got := e.src.Levels(); !reflect.DeepEqual(got, want) {
		t.Errorf("Levels\n got %v\nwant %v", got, want)
	}
}

func TestRestoreHonoursTTL(t *testing.T) {
	e := newEnv(t, Options{})
	e.src.Restore([]Level{{Namespace: "ns", Stream: "s", Value: 4, At: t0.Add(-time.Hour)}})
	e.watch(trig(keyA, map[string]string{"stream": "s", "ttlSeconds": "60"}, nil))
	if v := value(e, keyA); v != 0 {
		t.Errorf("a restored level older than the TTL: %g, want 0", v)
	}
}

func TestOnChange(t *testing.T) {
	var calls atomic.Int32
	changed := make(chan struct{}, 100)
	e := newEnv(t, Options{OnChange: func() { calls.Add(1); changed <- struct{}{} }})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	for range 10 {
		e.postJSON("ns", "s", `{"delta": 1}`) // before Start: coalesced
	}
	e.start()
	<-changed
	e.awaitIdle()
	if n := calls.Load(); n != 1 {
		t.Errorf("OnChange called %d times for changes made before Start, want 1", n)
	}
	e.postJSON("ns", "s", `{"value": 3}`)
	<-changed
	// Arrivals are not saved: no call for them.
	e.arrive("ns", "s", 1)
	e.postJSON("ns", "s", `{"value": 3}`) // unchanged
	e.awaitIdle()
	if n := calls.Load(); n != 2 {
		t.Errorf("OnChange called %d times, want 2", n)
	}
}

func TestEventsCounterFromOptions(t *testing.T) {
	vec := NewEventsCounter()
	src := New(sourcetest.NewSink(), Options{Events: vec, Registerer: prometheus.NewRegistry()})
	if err := src.Watch(trig(keyA, map[string]string{"stream": "s"}, nil)); err != nil {
		t.Fatal(err)
	}
	h := src.Handler()
	e := &env{t: t, h: h}
	e.postJSON("ns", "s", `{"value": 1}`)
	reg := prometheus.NewRegistry()
	reg.MustRegister(vec)
	e.reg = reg
	if got := e.counter("accepted", "ok"); got != 1 {
		t.Errorf("accepted %g, want 1", got)
	}
}

func TestRegistersOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(nil, Options{Registerer: reg})
	New(nil, Options{Registerer: reg}) // reuses the registered counter
}

func TestStartStop(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "windowSeconds": "5", "ttlSeconds": "10"}, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.src.Start(ctx) }()
	e.arrive("ns", "s", 2)
	e.postJSON("ns", "s", `{"delta": 1}`)
	e.awaitIdle()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Start = %v", err)
	}
	e.sink.Seal()

	e.clk.Step(time.Minute)
	if rr := e.postJSON("ns", "s", `{"value": 1}`); rr.Code != http.StatusServiceUnavailable {
		t.Errorf("POST after Start returned: %d", rr.Code)
	}
	if err := e.src.Watch(trig(keyB, map[string]string{"stream": "s"}, nil)); !errors.Is(err, ErrStopped) {
		t.Errorf("Watch after Start returned: %v", err)
	}
	e.src.Restore([]Level{{Namespace: "ns", Stream: "s", Value: 3}})
	e.src.Unwatch(keyA)
	if late := e.sink.Late(); len(late) > 0 {
		t.Errorf("recorded after Start returned: %v", late)
	}
}

func TestNoSecretInLogsOrAnswers(t *testing.T) {
	e := newEnv(t, Options{RateLimit: 1, RateBurst: 1})
	both := map[string]string{"token": testToken, "hmacSecret": testSecret}
	e.watch(trig(keyA, map[string]string{"stream": "s"}, both))
	if err := e.src.Watch(trig(keyB, map[string]string{"stream": "s"}, map[string]string{"token": "x-SECRET"})); err != nil {
		assertNoSecret(t, err.Error())
	}
	requests := []req{
		{Path: path("ns", "s"), Header: map[string]string{"Content-Type": jsonCT}, Body: `{"value": 1}`},
		{Path: path("ns", "s"), Header: map[string]string{"Content-Type": jsonCT, "Authorization": "Bearer " + testToken}, Body: `{"value": 1}`},
		{Path: path("ns", "s"), Header: map[string]string{"Content-Type": jsonCT, "Authorization": "Bearer " + testToken, "X-Pushscale-Signature": sign(testSecret, `{"value": 1}`)}, Body: `{"value": 1}`},
		{Path: path("ns", "s"), Header: map[string]string{"Content-Type": jsonCT, "Authorization": "Bearer " + testToken, "X-Pushscale-Signature": sign(testSecret, `{"value": 1}`)}, Body: `{"value": 1}`},
		{Path: path("ns", "s"), Header: map[string]string{"Content-Type": jsonCT, "Authorization": "Bearer " + testToken, "X-Pushscale-Signature": sign(testSecret, `{"value": x}`)}, Body: `{"value": x}`},
		{Method: http.MethodGet, Path: path("ns", "s"), Header: map[string]string{"Authorization": "Bearer wrong"}},
		{Method: http.MethodPatch, Path: path("ns", "s")},
	}
	for _, r := range requests {
		rr := e.do(r)
		assertNoSecret(t, rr.Body.String()+headerString(rr.Header()))
	}
	if e.logs.String() == "" {
		t.Error("no debug log lines: the check means nothing")
	}
	assertNoSecret(t, e.logs.String())
}
