package sources

import (
	"container/heap"
	"context"
	"time"

	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/store"
)

// readsPerEndpoint bounds the reads in flight on one endpoint: a reconnect
// of an endpoint with thousands of resources does not start thousands of
// goroutines, and a broker that hangs until ReadTimeout holds up only its
// own reads.
const readsPerEndpoint = 16

// timerSlack is how far the clock may move while the loop arms its timer
// before the loop arms it again (see loop).
const timerSlack = time.Millisecond

// loop fires timers until ctx is done. It is Start's goroutine; the reads
// it queues run in workers (see dispatch).
func (s *Scheduler) loop(ctx context.Context) {
	for {
		now := s.opts.Clock.Now()
		next, ok := s.fire(now)
		var timer clock.Timer
		var fired <-chan time.Time
		if ok {
			timer = s.opts.Clock.NewTimer(next.Sub(now))
			// A timer counts from the clock's time when it is made: if the
			// clock moved since now (a fake clock stepped by a test), it
			// would fire late, so work out what is due again.
			if s.opts.Clock.Since(now) > timerSlack {
				timer.Stop()
				continue
			}
			fired = timer.C()
		}
		s.setWaiting(true)
		select {
		case <-ctx.Done():
			stopTimer(timer)
			return
		case <-fired:
		case <-s.wake:
			stopTimer(timer)
		}
		s.setWaiting(false)
	}
}

func stopTimer(t clock.Timer) {
	if t != nil {
		t.Stop()
	}
}

func (s *Scheduler) setWaiting(w bool) {
	s.mu.Lock()
	s.waiting = w
	s.mu.Unlock()
}

// fire queues the reads due at now and returns when the next timer is due.
func (s *Scheduler) fire(now time.Time) (next time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.timers) > 0 && !s.timers[0].wake.After(now) {
		r := s.timers[0]
		if !r.hintAt.IsZero() && !r.hintAt.After(now) {
			r.hintAt = time.Time{}
			s.ready(r, ReasonHint)
		}
		if !r.due.IsZero() && !r.due.After(now) {
			r.due = time.Time{}
			s.ready(r, r.mode)
		}
		s.retime(r)
	}
	// The heap is read below under the same lock: wakes so far are
	// accounted for.
	select {
	case <-s.wake:
	default:
	}
	if len(s.timers) == 0 {
		return time.Time{}, false
	}
	return s.timers[0].wake, true
}

// retime puts r in the timer heap at its earliest timer, or takes it out,
// and wakes the loop when the earliest timer of all changed.
func (s *Scheduler) retime(r *resource) {
	at := r.nextWake()
	switch {
	case at.IsZero():
		if r.index >= 0 {
			heap.Remove(&s.timers, r.index)
		}
		return
	case r.index >= 0:
		if r.wake.Equal(at) {
			return
		}
		r.wake = at
		heap.Fix(&s.timers, r.index)
	default:
		r.wake = at
		heap.Push(&s.timers, r)
	}
	if s.timers[0] == r {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// dispatch starts workers for the reads queued on e, up to
// readsPerEndpoint, once Start runs. Workers are Start's: it waits for them.
func (s *Scheduler) dispatch(e *endpoint) {
	if s.state != running {
		return
	}
	// Workers not inside a read are about to take the next entry.
	for e.queued > e.workers-e.busy && e.workers < readsPerEndpoint {
		e.workers++
		s.workers++
		s.wg.Add(1)
		go s.work(e)
	}
}

// work reads the resources queued on e, one at a time, until none is left.
func (s *Scheduler) work(e *endpoint) {
	defer s.wg.Done()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		var r *resource
		if s.state == running {
			r = e.next()
		}
		if r == nil {
			e.workers--
			s.workers--
			return
		}
		reason, read, ctx := r.queued, r.read, s.ctx
		r.queued, r.urgent, r.pending = "", false, ""
		r.inFlight = true
		r.lastStart = s.opts.Clock.Now()
		// The read covers every hint and timer so far.
		r.due, r.hintAt = time.Time{}, time.Time{}
		s.retime(r)
		e.busy++
		s.mu.Unlock()

		if c := s.reads[reason]; c != nil {
			c.Inc()
		}
		v, act, err := s.call(ctx, read)

		s.mu.Lock()
		e.busy--
		s.finish(r, v, act, err)
	}
}

// call runs one read, bounded by ReadTimeout, with what it reported of
// its activity (nil: nothing).
func (s *Scheduler) call(ctx context.Context, read ReadFunc) (float64, *bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.ReadTimeout)
	defer cancel()
	a := &activity{}
	v, err := read(context.WithValue(ctx, activityKey{}, a))
	if !a.set {
		return v, nil, err
	}
	return v, &a.active, err
}

// record tells the sink r's last value for attachment k, with the
// activity its read decided when it did.
func (s *Scheduler) record(k store.Key, r *resource) {
	if as, ok := s.opts.Sink.(ActivitySink); ok && r.explicit != nil {
		as.RecordActive(k, r.value, *r.explicit, r.at)
		return
	}
	s.opts.Sink.Record(k, r.value, r.at)
}

// finish fans the result of a read of r out to its attachments, then asks
// for the follow-up read that hints during the read want, and plans the
// next periodic one. Results of a resource detached meanwhile, or of reads
// ended by Start's end, are dropped.
func (s *Scheduler) finish(r *resource, v float64, act *bool, err error) {
	r.inFlight = false
	if r.gone || s.state != running || s.ctx.Err() != nil {
		return
	}
	now := s.opts.Clock.Now()
	if err != nil {
		r.failed = true
		for _, a := range r.att {
			s.opts.Sink.Fail(a.Key, err)
		}
	} else {
		r.value, r.known, r.at, r.failed, r.lifted, r.explicit = v, true, now, false, false, act
		for _, a := range r.att {
			s.record(a.Key, r)
		}
	}
	if p := r.pending; p != "" {
		r.pending = ""
		if p == ReasonHint {
			s.hint(r, now) // rate-limited while active
		} else {
			s.ready(r, p)
		}
	}
	s.plan(r, now, true)
}

// stop ends Start: no read starts and the sink is not called any more;
// then it waits for the workers.
func (s *Scheduler) stop() {
	s.mu.Lock()
	s.state = stopped
	s.mu.Unlock()
	s.wg.Wait()
}

// timerHeap is a min-heap of resources by wake, for container/heap; each
// resource knows its index.
type timerHeap []*resource

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].wake.Before(h[j].wake) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *timerHeap) Push(x any) {
	r := x.(*resource)
	r.index = len(*h)
	*h = append(*h, r)
}

func (h *timerHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	r.index = -1
	return r
}
