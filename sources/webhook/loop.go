package webhook

import (
	"context"
	"time"

	"k8s.io/utils/clock"
)

// Start runs the timers that make arrivals leave their windows, TTLs run
// out and forgotten levels go, and calls Options.OnChange. It blocks until
// ctx is done and returns nil. Once it has returned, nothing is recorded
// any more: requests get 503 and Watch returns ErrStopped. Call it once.
func (s *Source) Start(ctx context.Context) error {
	defer s.shutdown()
	var due []dueEntry
	for {
		now := s.clock.Now()
		due = s.sched.popDue(now, due[:0])
		for _, e := range due {
			s.fire(e)
		}
		clear(due)

		var timer clock.Timer
		var tick <-chan time.Time
		if at, ok := s.sched.next(); ok {
			d := at.Sub(s.clock.Now())
			if d <= 0 {
				continue
			}
			timer = s.clock.NewTimer(d)
			tick = timer.C()
		}
		s.loopIdle.Store(true)
		select {
		case <-ctx.Done():
			stopTimer(timer)
			return nil
		case <-tick:
		case <-s.sched.wake:
			stopTimer(timer)
		case <-s.changed:
			stopTimer(timer)
			s.dirty.Store(false)
			s.opts.OnChange()
		}
		s.loopIdle.Store(false)
	}
}

func stopTimer(t clock.Timer) {
	if t != nil {
		t.Stop()
	}
}

// fire handles a due schedule entry. It reads the time under the stream's
// lock, as every other writer does.
func (s *Source) fire(e dueEntry) {
	st := e.s
	st.mu.Lock()
	now := s.clock.Now()
	if st.gone || !st.due.Equal(e.at) {
		st.mu.Unlock() // stale: a later entry is live
		return
	}
	st.due = time.Time{}
	if !st.watched() {
		expired := !now.Before(st.parked)
		if !expired {
			st.reschedule(now)
		}
		st.mu.Unlock()
		if expired {
			s.dropParked(st, now)
		}
		return
	}
	reset := st.expire(now)
	st.publish(now, false)
	st.reschedule(now)
	st.mu.Unlock()
	if reset {
		s.markChanged()
	}
}

// dropParked forgets st if nobody watches it still and its retention is
// over. Anything that changed that in between has rescheduled st.
func (s *Source) dropParked(st *stream, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.mu.Lock()
	defer st.mu.Unlock()
	if !st.watched() && !now.Before(st.parked) {
		s.dropLocked(st)
	}
}

// shutdown makes sure nothing is recorded once Start returns: every sink
// call happens under a stream's lock after checking closed, so once each
// lock has been taken after closed was set, no call is in flight and none
// can start.
func (s *Source) shutdown() {
	s.closed.Store(true)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, st := range s.streams {
		st.mu.Lock()
		//nolint:staticcheck // an empty critical section: waiting is the point
		st.mu.Unlock()
	}
}
