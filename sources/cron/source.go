package cron

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// maxSleep bounds the loop's wait between wakes, so that a step of the
// wall clock is noticed within it (timers count monotonic time).
const maxSleep = time.Minute

// timerSlack is how far the clock may move while the loop arms its timer
// before the loop works out what is due again (a fake clock stepped by a
// test meanwhile).
const timerSlack = time.Millisecond

// Family registers the source with the gateway's sources.Registry. Its
// values are never read: the family gets no Scheduler.
func Family() sources.Family {
	return sources.Family{Name: Type, Types: []string{Type}, NeverRead: true, New: func(d sources.Deps) sources.Source { return New(d) }}
}

// Source serves cron triggers. It is safe for concurrent use.
type Source struct {
	sink  sources.Sink
	clock clock.WithTicker
	log   *slog.Logger

	// mu guards everything below. The sink is called with mu held, so
	// that Unwatch and the end of Start are clear lines after which
	// nothing is recorded for what they removed; the sink never blocks.
	mu       sync.Mutex
	stopped  bool
	triggers map[store.Key]*trigger
	last     time.Time     // the loop's last pass, to notice a clock stepped back
	wake     chan struct{} // capacity 1: the earliest edge changed
}

// trigger is one watched trigger and its next edge.
type trigger struct {
	c    Config
	next time.Time // zero: no edge ever again
}

var _ sources.Source = (*Source)(nil)

// New returns a source writing to d.Sink on d.Clock's timers; nothing runs
// until Start.
func New(d sources.Deps) *Source {
	sources.DefaultClockLogger(&d.Clock, &d.Logger)
	return &Source{sink: d.Sink, clock: d.Clock, log: d.Logger, triggers: make(map[store.Key]*trigger), wake: make(chan struct{}, 1)}
}

// Parse validates t.
func (s *Source) Parse(t sources.Trigger) (sources.Spec, error) {
	c, err := ParseConfig(t)
	if err != nil {
		return sources.Spec{}, err
	}
	return c.Spec(t.Key.Trigger), nil
}

// Watch records t's value now and arms the timer of its next edge. An
// invalid trigger is no longer watched (if it was).
func (s *Source) Watch(t sources.Trigger) error {
	c, err := ParseConfig(t)
	if err != nil {
		s.Unwatch(t.Key)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return sources.ErrStopped
	}
	tr := &trigger{c: c}
	s.triggers[t.Key] = tr
	s.sink.SetPush(t.Key, store.Push{Healthy: true, Reason: v1alpha1.ReasonSubscribed,
		Message: "cron: the window's edges (start " + c.Start + ", end " + c.End + ", " + c.Timezone + ") fire on the gateway's timers; nothing is polled"})
	s.update(t.Key, tr, s.clock.Now())
	s.poke()
	return nil
}

// Unwatch forgets k. Unknown keys are ignored.
func (s *Source) Unwatch(k store.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.triggers[k]; ok {
		delete(s.triggers, k)
		s.poke()
	}
}

// Start fires the triggers' edges until ctx is done, then returns nil;
// nothing is recorded after it returns.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return errors.New("cron: Start called after it ended")
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
	}()
	for {
		now := s.clock.Now()
		sleep := s.fire(now)
		timer := s.clock.NewTimer(sleep)
		if s.clock.Since(now) > timerSlack {
			timer.Stop()
			continue
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C():
		case <-s.wake:
			timer.Stop()
		}
	}
}

// fire records the triggers whose edge has come by now and returns how
// long to wait for the next one.
func (s *Source) fire(now time.Time) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	back := now.Before(s.last) // the clock was stepped back: edges may have come undone
	s.last = now
	sleep := maxSleep
	for k, tr := range s.triggers {
		if back || (!tr.next.IsZero() && !tr.next.After(now)) {
			s.update(k, tr, now)
		}
		if !tr.next.IsZero() {
			sleep = min(sleep, tr.next.Sub(now))
		}
	}
	// The triggers were read under the same lock: wakes so far are
	// accounted for.
	select {
	case <-s.wake:
	default:
	}
	return max(sleep, 0)
}

// update records tr's value at now and sets its next edge. Called with
// s.mu held.
func (s *Source) update(k store.Key, tr *trigger, now time.Time) {
	v, inside, next := tr.c.At(now)
	tr.next = next
	if as, ok := s.sink.(sources.ActivitySink); ok {
		as.RecordActive(k, v, inside, now)
	} else {
		s.sink.Record(k, v, now)
	}
	s.log.Debug("cron edge", "namespace", k.Namespace, "scaledObject", k.Name, "trigger", k.Trigger, "inside", inside, "next", next)
}

// poke wakes the loop: the earliest edge may have changed.
func (s *Source) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}
