package sources_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func TestSchedulerReadsBeforeStartWait(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	rd := newReader(2)
	id := rid("ep", "list:jobs")
	h.s.Attach(id, rd.read, att(key(0), 0, time.Minute))
	h.s.Hint(id, true)
	h.s.Reconnected("ep")
	rd.wantCalls(t, 0) // nothing runs before Start
	h.start()
	h.sink.AwaitValue(t, key(0), 2)
	h.settle()
	rd.wantCalls(t, 1) // the queued reads were one
}

func TestSchedulerStartWaitsForReads(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	started, cancelled, release := make(chan struct{}), make(chan struct{}), make(chan struct{})
	read := func(ctx context.Context) (float64, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		<-release // a read that takes its time to give up
		return 7, nil
	}
	id := rid("ep", "list:jobs")
	h.s.Attach(id, read, att(key(0), 0, time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.s.Start(ctx) }()
	<-started
	cancel()
	<-cancelled
	select {
	case err := <-done:
		t.Fatalf("Start returned %v with a read in flight", err)
	default:
	}
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Start = %v, want nil", err)
		}
	case <-time.After(sourcetest.WaitTimeout):
		t.Fatal("Start did not return once its read did")
	}
	if got := h.sink.Records(key(0)); len(got) > 0 {
		t.Errorf("a read ended by cancel recorded %v", got)
	}

	h.sink.Seal()
	h.s.Hint(id, true)
	h.s.Attach(id, read, att(key(1), 0, time.Minute))
	h.s.SetPush("ep", "", healthy)
	h.s.Reconnected("ep")
	h.s.Detach(key(0))
	h.clock.Step(time.Hour)
	if late := h.sink.Late(); len(late) > 0 {
		t.Errorf("sink called after Start returned: %v", late)
	}
	if err := h.s.Start(context.Background()); err == nil {
		t.Error("second Start = nil, want an error")
	}
}

func TestSchedulerReadsCounter(t *testing.T) {
	const polling, repair = 10 * time.Second, 10 * time.Minute
	h := newHarness(t, sources.SchedulerOptions{RepairInterval: repair})
	// Every reason's series exists from the start.
	if n := testutil.CollectAndCount(h.reads); n != 5 {
		t.Errorf("series before any read = %d, want 5", n)
	}
	rd := newReader(0)
	id := rid("ep", "list:jobs")
	h.s.SetPush("ep", "", healthy)
	h.s.Attach(id, rd.read, att(key(0), 0, polling))
	h.start()
	rd.awaitCalls(t, 1) // watch
	h.settle()
	h.s.Hint(id, false)
	rd.awaitCalls(t, 2) // hint
	h.settle()
	h.s.Reconnected("ep")
	rd.awaitCalls(t, 3) // reconnect
	h.step(repair * 11 / 10)
	rd.awaitCalls(t, 4) // repair
	h.settle()
	h.s.SetPush("ep", "", unhealthy)
	h.step(polling)
	rd.awaitCalls(t, 5) // poll
	h.settle()

	want := map[sources.Reason]int{
		sources.ReasonWatch: 1, sources.ReasonHint: 1, sources.ReasonReconnect: 1,
		sources.ReasonRepair: 1, sources.ReasonPoll: 1,
	}
	for reason, n := range want {
		if got := h.count(reason); got != n {
			t.Errorf("pushscale_broker_reads_total{source=%q,reason=%q} = %d, want %d", "test", reason, got, n)
		}
	}
}

func TestSchedulerRealClock(t *testing.T) {
	sink := sourcetest.NewSink()
	s := sources.NewScheduler(sources.SchedulerOptions{Sink: sink, ActiveMinInterval: 20 * time.Millisecond})
	rd := newReader(5) // active: the second hint trails the first read
	id := rid("ep", "list:jobs")
	s.Attach(id, rd.read, att(key(0), 0, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Start(ctx) }()
	sink.AwaitValue(t, key(0), 5)
	rd.set(6, nil)
	s.Hint(id, false)
	sink.AwaitValue(t, key(0), 6)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Start = %v, want nil", err)
	}
}
