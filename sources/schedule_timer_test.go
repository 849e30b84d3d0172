package sources_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// checkCadence steps the clock through n periods of iv and checks that each
// read comes not before 0.9·iv and by 1.1·iv after the one before, for
// reason. The last read must have been at the clock's time.
func checkCadence(t *testing.T, h *harness, rd *reader, iv time.Duration, reason sources.Reason, n int) {
	t.Helper()
	before, counted := rd.calls(), h.count(reason)
	for i := range n {
		h.step(iv*9/10 - time.Millisecond)
		h.settle()
		rd.wantCalls(t, before+i)
		h.clock.Step(iv/5 + time.Millisecond)
		rd.awaitCalls(t, before+i+1)
	}
	h.settle()
	if got := h.count(reason) - counted; got != n {
		t.Errorf("%s reads = %d, want %d", reason, got, n)
	}
}

func TestSchedulerCadence(t *testing.T) {
	const repair = 10 * time.Minute
	tests := []struct {
		name       string
		read       *reader
		activation float64
		push       *store.Push // nil: never reported
		polling    []time.Duration
		want       sources.Reason
		interval   time.Duration
	}{
		{name: "active, push healthy: pollingInterval", read: newReader(5), push: &healthy,
			polling: []time.Duration{10 * time.Second}, want: sources.ReasonPoll, interval: 10 * time.Second},
		{name: "active: smallest pollingInterval of the attachments", read: newReader(5), push: &healthy,
			polling: []time.Duration{20 * time.Second, 5 * time.Second, 10 * time.Second},
			want:    sources.ReasonPoll, interval: 5 * time.Second},
		{name: "idle, push unhealthy: pollingInterval", read: newReader(0), push: &unhealthy,
			polling: []time.Duration{10 * time.Second}, want: sources.ReasonPoll, interval: 10 * time.Second},
		{name: "idle, push never reported: pollingInterval", read: newReader(0),
			polling: []time.Duration{10 * time.Second}, want: sources.ReasonPoll, interval: 10 * time.Second},
		{name: "idle, reads failing: pollingInterval", read: failing(errors.New("boom")), push: &healthy,
			polling: []time.Duration{10 * time.Second}, want: sources.ReasonPoll, interval: 10 * time.Second},
		{name: "idle, push healthy: repair sweep", read: newReader(0), push: &healthy,
			polling: []time.Duration{10 * time.Second}, want: sources.ReasonRepair, interval: repair},
		{name: "value at the threshold is idle", read: newReader(2), activation: 2, push: &healthy,
			polling: []time.Duration{10 * time.Second}, want: sources.ReasonRepair, interval: repair},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sources.SchedulerOptions{RepairInterval: repair})
			if tt.push != nil {
				h.s.SetPush("ep", "", *tt.push) // before Attach: inherited
			}
			id := rid("ep", "list:jobs")
			for i, iv := range tt.polling {
				h.s.Attach(id, tt.read.read, att(key(i), tt.activation, iv))
			}
			h.start()
			tt.read.awaitCalls(t, 1)
			checkCadence(t, h, tt.read, tt.interval, tt.want, 5)
			if got := h.counts(); len(got) != 2 || got[sources.ReasonWatch] != 1 {
				t.Errorf("reads = %v, want one watch read and %s reads only", got, tt.want)
			}
		})
	}
}

func TestSchedulerPushHealthSwitchesCadence(t *testing.T) {
	const polling, repair = 10 * time.Second, 10 * time.Minute
	h := newHarness(t, sources.SchedulerOptions{RepairInterval: repair})
	rd := newReader(0)
	id := rid("ep", "list:jobs")
	h.s.SetPush("ep", "", healthy)
	h.s.Attach(id, rd.read, att(key(0), 0, polling))
	if p, _ := h.sink.Push(key(0)); p != healthy {
		t.Errorf("push of a new attachment = %+v, want the endpoint's %+v", p, healthy)
	}
	h.start()
	rd.awaitCalls(t, 1)
	h.step(repair / 2)
	h.settle()
	rd.wantCalls(t, 1)

	h.s.SetPush("ep", "", unhealthy)
	if p, _ := h.sink.Push(key(0)); p != unhealthy {
		t.Errorf("push = %+v, want %+v", p, unhealthy)
	}
	h.step(polling) // the first poll comes within pollingInterval
	rd.awaitCalls(t, 2)
	checkCadence(t, h, rd, polling, sources.ReasonPoll, 2)

	h.s.SetPush("ep", "", healthy) // back to the slow sweep
	checkCadence(t, h, rd, repair, sources.ReasonRepair, 1)
}

func TestSchedulerSetPushOneResource(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	a, b := newReader(0), newReader(0)
	h.s.Attach(rid("ep", "list:a"), a.read, att(key(0), 0, time.Minute))
	h.s.Attach(rid("ep", "list:b"), b.read, att(key(1), 0, time.Minute))
	h.s.SetPush("ep", "list:a", unhealthy)
	h.s.SetPush("ep", "list:nope", unhealthy) // unknown: ignored
	if p, ok := h.sink.Push(key(0)); !ok || p != unhealthy {
		t.Errorf("push of list:a = %+v, %v; want %+v", p, ok, unhealthy)
	}
	if p, ok := h.sink.Push(key(1)); ok {
		t.Errorf("push of list:b = %+v, want none", p)
	}
}

func TestSchedulerReconnected(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	h.s.SetPush("a", "", healthy)
	h.s.SetPush("b", "", healthy)
	readers := map[sources.ResourceID]*reader{
		rid("a", "list:x"): newReader(0),
		rid("a", "list:y"): newReader(0),
		rid("a", "list:z"): newReader(0),
		rid("b", "list:x"): newReader(0),
	}
	i := 0
	for id, rd := range readers {
		h.s.Attach(id, rd.read, att(key(i), 0, time.Minute))
		i++
	}
	if got, want := h.s.Resources("a"), []sources.ResourceID{rid("a", "list:x"), rid("a", "list:y"), rid("a", "list:z")}; !slices.Equal(got, want) {
		t.Errorf("Resources(a) = %v, want %v", got, want)
	}
	if got := h.s.Resources(""); len(got) != 4 {
		t.Errorf("Resources() = %v, want all 4", got)
	}
	h.start()
	for _, rd := range readers {
		rd.awaitCalls(t, 1)
	}
	h.settle()

	h.s.Reconnected("a")
	h.s.Reconnected("nope") // unknown: ignored
	for id, rd := range readers {
		if id.Endpoint == "a" {
			rd.awaitCalls(t, 2)
		}
	}
	h.settle()
	for id, rd := range readers {
		want := 1
		if id.Endpoint == "a" {
			want = 2
		}
		if got := rd.calls(); got != want {
			t.Errorf("%v: reads = %d, want %d", id, got, want)
		}
	}
	if got := h.count(sources.ReasonReconnect); got != 3 {
		t.Errorf("reconnect reads = %d, want 3", got)
	}
}

func TestSchedulerDetachStopsTimers(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	rd := newReader(5) // active: polled
	id := rid("ep", "list:jobs")
	h.s.Attach(id, rd.read, att(key(0), 0, 10*time.Second))
	h.s.Attach(id, rd.read, att(key(1), 0, 10*time.Second))
	h.start()
	rd.awaitCalls(t, 1)
	h.settle()
	if n := h.s.Timers(); n != 1 {
		t.Fatalf("timers = %d, want 1", n)
	}
	if got, gone := h.s.Detach(key(0)); got != id || gone {
		t.Errorf("Detach(first) = %v, %v; want %v, false", got, gone, id)
	}
	if got, gone := h.s.Detach(key(1)); got != id || !gone {
		t.Errorf("Detach(last) = %v, %v; want %v, true", got, gone, id)
	}
	if got, gone := h.s.Detach(key(1)); gone || got != (sources.ResourceID{}) {
		t.Errorf("Detach(unknown) = %v, %v; want zero, false", got, gone)
	}
	h.settle()
	if n := h.s.Timers(); n != 0 {
		t.Errorf("timers after the last detach = %d, want 0", n)
	}
	h.step(time.Hour)
	h.s.Hint(id, true) // unknown now: ignored
	h.s.Reconnected("ep")
	h.settle()
	rd.wantCalls(t, 1)
	if got := h.s.Resources(""); len(got) != 0 {
		t.Errorf("Resources() = %v, want none", got)
	}
}

func TestSchedulerDetachDropsReadInFlight(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	rd := newReader(3).gated()
	id := rid("ep", "list:jobs")
	h.s.Attach(id, rd.read, att(key(0), 0, time.Hour))
	h.s.Attach(id, rd.read, att(key(1), 0, time.Hour))
	h.start()
	rd.awaitCalls(t, 1)
	h.s.Detach(key(0))
	rd.release(t)
	h.sink.AwaitValue(t, key(1), 3)
	h.settle()
	if got := h.sink.Records(key(0)); len(got) != 0 {
		t.Errorf("detached key recorded %v, want nothing", got)
	}

	rd.set(4, nil)
	h.step(time.Second) // past ActiveMinInterval: the hint reads at once
	h.s.Hint(id, false)
	rd.awaitCalls(t, 2)
	if _, gone := h.s.Detach(key(1)); !gone {
		t.Error("Detach(last) reported the resource still there")
	}
	rd.release(t)
	h.settle()
	if got := h.sink.Records(key(1)); !slices.Equal(got, []float64{3}) {
		t.Errorf("records after the last detach = %v, want [3]", got)
	}
}

func TestSchedulerAttachMovesKey(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	a, b := newReader(1), newReader(2)
	h.s.Attach(rid("ep", "list:a"), a.read, att(key(0), 0, time.Minute))
	h.s.Attach(rid("ep", "list:b"), b.read, att(key(0), 0, time.Minute))
	if got, want := h.s.Resources(""), []sources.ResourceID{rid("ep", "list:b")}; !slices.Equal(got, want) {
		t.Errorf("Resources() = %v, want %v", got, want)
	}
	h.start()
	h.sink.AwaitValue(t, key(0), 2)
	h.settle()
	a.wantCalls(t, 0)
	if got, gone := h.s.Detach(key(0)); got != rid("ep", "list:b") || !gone {
		t.Errorf("Detach = %v, %v; want list:b, true", got, gone)
	}
}
