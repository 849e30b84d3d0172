package cron

import (
	"context"
	"testing"
	"time"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

func TestConformance(t *testing.T) {
	tr := cronTrigger(valid())
	tr.AuthParams = map[string]string{"unused": "s3cret-never-read"}
	tr.ResolvedEnv = map[string]string{"TZ": "env-s3cret"}
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d) }, tr)
}

// run starts s until the test ends.
func run(t *testing.T, s *Source) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start = %v", err)
		}
	})
}

// step moves clk to at once the loop waits on its timer.
func step(t *testing.T, clk *testingclock.FakeClock, at time.Time) {
	t.Helper()
	sourcetest.Eventually(t, "the loop to wait on its timer", clk.HasWaiters)
	clk.SetTime(at)
}

func fakeDeps(sink sources.Sink, clk *testingclock.FakeClock) sources.Deps {
	return sources.Deps{Name: Type, Sink: sink, Clock: clk}
}

// TestEdgesFireOnTimers: the value is recorded at Watch, then at the start
// and at the end of the window, each on the fake clock's timer and at the
// edge's time, and at nothing else: a minute's wake between edges records
// nothing.
func TestEdgesFireOnTimers(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 58, 30, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	sink := sourcetest.NewSink()
	s := New(fakeDeps(sink, clk))
	k := sourcetest.Key("so")
	if err := s.Watch(cronTrigger(valid())); err != nil {
		t.Fatal(err)
	}
	if v, _ := sink.Value(k); v != 0 {
		t.Fatalf("value at Watch = %g, want 0", v)
	}
	p, _ := sink.Push(k)
	if !p.Healthy || p.Reason != "Subscribed" {
		t.Fatalf("push health %+v, want healthy, Subscribed", p)
	}
	run(t, s)

	step(t, clk, t0.Add(time.Minute)) // 09:59:30: the minute's wake
	step(t, clk, time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	sink.AwaitValue(t, k, 3)
	last, _ := sink.Last(k)
	if !last.At.Equal(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)) || last.Active == nil || !*last.Active {
		t.Fatalf("start recorded as %v at %s, want active at 10:00", last, last.At)
	}
	// An hour in steps: only the end records.
	for m := 1; m <= 60; m++ {
		step(t, clk, time.Date(2026, 12, 7, 10, m, 0, 0, time.UTC))
	}
	sink.AwaitValue(t, k, 0)
	if got := sink.Records(k); len(got) != 3 {
		t.Fatalf("recorded %v, want [0 3 0]: one at Watch, one per edge", got)
	}
}

// TestUnwatchStopsRecording: an unwatched trigger's edges record nothing,
// and other triggers keep theirs.
func TestUnwatchStopsRecording(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 59, 59, 0, time.UTC)
	clk := testingclock.NewFakeClock(t0)
	sink := sourcetest.NewSink()
	s := New(fakeDeps(sink, clk))
	gone, kept := cronTrigger(valid()), cronTrigger(with("start", "0 10 * * *", "end", "0 12 * * *"))
	kept.Key = store.Key{Owner: gone.Key.Owner, Trigger: 1}
	for _, tr := range []sources.Trigger{gone, kept} {
		if err := s.Watch(tr); err != nil {
			t.Fatal(err)
		}
	}
	run(t, s)
	s.Unwatch(gone.Key)
	step(t, clk, t0.Add(time.Second))
	sink.AwaitValue(t, kept.Key, 3)
	if got := sink.Records(gone.Key); len(got) != 1 {
		t.Fatalf("unwatched trigger recorded %v after Unwatch", got)
	}
}

// TestClockSteppedBack: a wall clock stepped back into the window is
// noticed at the next wake (the fake clock cannot step the wall clock
// apart from the timers' monotonic one: fire is called as the loop would).
func TestClockSteppedBack(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	sink := sourcetest.NewSink()
	s := New(fakeDeps(sink, testingclock.NewFakeClock(t0)))
	k := sourcetest.Key("so")
	if err := s.Watch(cronTrigger(valid())); err != nil {
		t.Fatal(err)
	}
	s.fire(t0)
	if sleep := s.fire(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC)); sleep != maxSleep {
		t.Errorf("sleep %s after the step back, want %s (the most the loop sleeps)", sleep, maxSleep)
	}
	if v, _ := sink.Value(k); v != 3 {
		t.Fatalf("value %g after the clock was stepped back into the window, want 3", v)
	}
}

// TestWatchAgainReplaces: a changed window takes effect at Watch.
func TestWatchAgainReplaces(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Date(2026, 12, 7, 10, 30, 0, 0, time.UTC))
	sink := sourcetest.NewSink()
	s := New(fakeDeps(sink, clk))
	k := sourcetest.Key("so")
	if err := s.Watch(cronTrigger(valid())); err != nil {
		t.Fatal(err)
	}
	if err := s.Watch(cronTrigger(with("desiredReplicas", "7"))); err != nil {
		t.Fatal(err)
	}
	if v, _ := sink.Value(k); v != 7 {
		t.Fatalf("value %g after the second Watch, want 7", v)
	}
	if err := s.Watch(cronTrigger(with("timezone", "Nowhere/Else"))); err == nil {
		t.Fatal("Watch of an invalid trigger succeeded")
	}
	run(t, s)
	step(t, clk, time.Date(2026, 12, 7, 11, 0, 0, 0, time.UTC))
	if got := sink.Records(k); len(got) != 2 {
		t.Fatalf("recorded %v: the trigger made invalid is still watched", got)
	}
}
