package sources_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

func TestSchedulerSingleFlight(t *testing.T) {
	tests := []struct {
		name  string
		value float64 // what reads return; > 0 is active
		// followAfter is how long after the hinted read started the
		// follow-up comes: at once while idle, ActiveMinInterval while
		// active.
		followAfter time.Duration
	}{
		{name: "idle", value: 0},
		{name: "active", value: 5, followAfter: 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sources.SchedulerOptions{ActiveMinInterval: 250 * time.Millisecond})
			rd := newReader(tt.value).gated()
			id := rid("ep", "list:jobs")
			h.s.Attach(id, rd.read, att(key(0), 0, time.Hour))
			h.start()
			rd.release(t) // the watch read
			h.step(time.Second)

			h.s.Hint(id, false)
			rd.awaitCalls(t, 2)
			for range 100 {
				h.s.Hint(id, false)
			}
			rd.wantCalls(t, 2) // single flight
			rd.release(t)
			if tt.followAfter > 0 {
				h.step(tt.followAfter - time.Millisecond)
				rd.wantCalls(t, 2)
				h.step(time.Millisecond)
			}
			rd.release(t) // exactly one follow-up...
			h.settle()
			rd.wantCalls(t, 3) // ...and no more
			if got := h.count(sources.ReasonHint); got != 2 {
				t.Errorf("hint reads = %d, want 2", got)
			}
		})
	}
}

func TestSchedulerHintsWhileIdleReadAtOnce(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{ActiveMinInterval: time.Minute})
	rd := newReader(0)
	id := rid("ep", "list:jobs")
	h.s.Attach(id, rd.read, att(key(0), 0, time.Hour))
	h.start()
	for i := 2; i <= 5; i++ {
		h.settle()
		h.s.Hint(id, false)
		rd.awaitCalls(t, i) // without the clock moving
	}
	h.settle()
	rd.wantCalls(t, 5)
}

func TestSchedulerHintsWhileActiveTrail(t *testing.T) {
	const minInterval = 250 * time.Millisecond
	h := newHarness(t, sources.SchedulerOptions{ActiveMinInterval: minInterval})
	rd := newReader(5)
	id := rid("ep", "list:jobs")
	h.s.Attach(id, rd.read, att(key(0), 0, time.Hour))
	h.start()
	rd.awaitCalls(t, 1) // the watch read, at t0

	h.settle()
	for range 10 {
		h.s.Hint(id, false)
	}
	h.step(minInterval - time.Millisecond)
	h.settle()
	rd.wantCalls(t, 1)
	h.clock.Step(time.Millisecond)
	rd.awaitCalls(t, 2) // trailing: the hints are followed by one read

	h.settle()
	h.s.Hint(id, true) // right after a read: waits again
	h.settle()
	rd.wantCalls(t, 2)
	h.step(minInterval)
	rd.awaitCalls(t, 3)

	h.step(time.Second) // long after the last read: at once
	h.s.Hint(id, false)
	rd.awaitCalls(t, 4)
	h.settle()
	rd.wantCalls(t, 4)
	if got := h.count(sources.ReasonHint); got != 3 {
		t.Errorf("hint reads = %d, want 3", got)
	}
}

func TestSchedulerLeadingEdge(t *testing.T) {
	tests := []struct {
		name     string
		first    *reader // the watch read's result
		additive bool
		wantEdge bool
	}{
		{name: "additive hint at zero records 1 at once", first: newReader(0), additive: true, wantEdge: true},
		{name: "other hint at zero waits for the read", first: newReader(0), additive: false},
		{name: "additive hint above zero waits for the read", first: newReader(3), additive: true},
		{name: "additive hint on an unknown value waits for the read", first: failing(errors.New("boom")), additive: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, sources.SchedulerOptions{})
			rd := tt.first.gated()
			id := rid("ep", "list:jobs")
			keys := []store.Key{key(0), key(1)}
			for _, k := range keys {
				h.s.Attach(id, rd.read, att(k, 0, time.Hour))
			}
			h.start()
			rd.release(t)
			h.step(time.Second)
			h.sink.Reset()
			rd.set(7, nil)

			h.s.Hint(id, tt.additive)
			// Synchronously, before the read that follows has returned.
			var got []store.Key
			for _, c := range h.sink.Calls() {
				if c.Op != sourcetest.OpRecord || c.Value != 1 || !c.At.Equal(h.clock.Now()) {
					t.Errorf("unexpected sink call %v", c)
				}
				got = append(got, c.Key)
			}
			if tt.wantEdge && (len(got) != 2 || !slices.Contains(got, keys[0]) || !slices.Contains(got, keys[1])) {
				t.Errorf("leading edge recorded for %v, want %v", got, keys)
			}
			if !tt.wantEdge && len(got) > 0 {
				t.Errorf("leading edge recorded for %v, want none", got)
			}
			rd.awaitCalls(t, 2)
			rd.release(t)
			for _, k := range keys {
				h.sink.AwaitValue(t, k, 7)
			}
		})
	}
}

func TestSchedulerFanOut(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	rd := newReader(4).gated()
	id := rid("ep", "list:jobs")
	h.s.Attach(id, rd.read, att(key(0), 0, time.Hour))
	h.s.Attach(id, newReader(99).read, att(key(1), 10, time.Hour)) // the first read stays
	h.start()
	rd.awaitCalls(t, 1)
	h.s.Attach(id, rd.read, att(key(2), 0, time.Hour)) // during the first read: shares it
	rd.release(t)
	for i := range 3 {
		h.sink.AwaitValue(t, key(i), 4)
		if c, _ := h.sink.Last(key(i)); !c.At.Equal(t0) {
			t.Errorf("key %d recorded at %v, want the clock's now %v", i, c.At, t0)
		}
	}
	h.step(time.Second)

	// A known value is recorded at once for a new attachment, with the
	// time of its read, and not read again.
	h.s.Attach(id, rd.read, att(key(3), 0, time.Hour))
	if c, ok := h.sink.Last(key(3)); !ok || c.Value != 4 || !c.At.Equal(t0) {
		t.Errorf("new attachment: last record %v, %v; want 4 at %v", c, ok, t0)
	}
	h.settle()
	rd.wantCalls(t, 1)
	if got := h.counts(); got[sources.ReasonWatch] != 1 || len(got) != 1 {
		t.Errorf("reads = %v, want one watch read", got)
	}
}

func TestSchedulerErrors(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	rd := failing(errors.New("redis: llen jobs: WRONGTYPE"))
	id := rid("ep", "list:jobs")
	for i := range 3 {
		h.s.Attach(id, rd.read, att(key(i), 0, time.Hour))
	}
	h.start()
	h.sink.Await(t, "a failure for every attachment", func() bool {
		n := 0
		for _, c := range h.sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Err == "redis: llen jobs: WRONGTYPE" {
				n++
			}
		}
		return n == 3
	})
	h.settle()
	for i := range 3 {
		if _, ok := h.sink.Last(key(i)); ok {
			t.Errorf("key %d: value recorded after a failed read", i)
		}
	}
	rd.wantCalls(t, 1)
}

func TestSchedulerReadTimeout(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{ReadTimeout: 20 * time.Millisecond})
	rd := newReader(1).gated() // never released: the read ends with its context
	h.s.Attach(rid("ep", "list:jobs"), rd.read, att(key(0), 0, time.Hour))
	h.start()
	h.sink.Await(t, "a timeout", func() bool {
		for _, c := range h.sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Err == "context deadline exceeded" {
				return true
			}
		}
		return false
	})
}

func TestSchedulerReconnectDuringRead(t *testing.T) {
	h := newHarness(t, sources.SchedulerOptions{})
	rd := newReader(0).gated()
	h.s.Attach(rid("ep", "list:jobs"), rd.read, att(key(0), 0, time.Hour))
	h.start()
	rd.awaitCalls(t, 1)
	h.s.Reconnected("ep") // the read in flight may have missed changes
	h.s.Reconnected("ep")
	rd.release(t)
	rd.release(t) // one follow-up
	h.settle()
	rd.wantCalls(t, 2)
	if got := h.counts(); got[sources.ReasonWatch] != 1 || got[sources.ReasonReconnect] != 1 || len(got) != 2 {
		t.Errorf("reads = %v, want one watch and one reconnect read", got)
	}
}

func TestSchedulerReadsPerEndpointBoundedHintsFirst(t *testing.T) {
	const n = sources.ReadsPerEndpoint + 2
	h := newHarness(t, sources.SchedulerOptions{})
	h.s.SetPush("ep", "", healthy)
	readers := make([]*reader, n)
	for i := range readers {
		readers[i] = newReader(0)
		h.s.Attach(rid("ep", fmt.Sprintf("list:%02d", i)), readers[i].read, att(key(i), 0, time.Hour))
	}
	h.start()
	for _, rd := range readers {
		rd.awaitCalls(t, 1)
	}
	h.settle()
	for _, rd := range readers {
		rd.gated()
	}
	total := func() int {
		sum := 0
		for _, rd := range readers {
			sum += rd.calls()
		}
		return sum
	}

	h.s.Reconnected("ep")
	eventually(t, "the first reconnect reads", func() bool { return total() >= n+sources.ReadsPerEndpoint })
	var inFlight, queued []int
	for i, rd := range readers {
		if rd.calls() == 2 {
			inFlight = append(inFlight, i)
		} else {
			queued = append(queued, i)
		}
	}
	if len(inFlight) != sources.ReadsPerEndpoint || len(queued) != 2 {
		t.Fatalf("reads in flight %v, queued %v; want %d and 2", inFlight, queued, sources.ReadsPerEndpoint)
	}
	// A hint for a queued resource jumps the queue.
	first, second := queued[1], queued[0]
	h.s.Hint(rid("ep", fmt.Sprintf("list:%02d", first)), false)
	readers[inFlight[0]].release(t)
	readers[first].awaitCalls(t, 2)
	readers[second].wantCalls(t, 1)
	readers[inFlight[1]].release(t)
	readers[second].awaitCalls(t, 2)
}
