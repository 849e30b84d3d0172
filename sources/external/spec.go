package external

import (
	"context"
	"fmt"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// specFetch is one GetMetricSpec in flight for a resource id.
type specFetch struct {
	done chan struct{} // closed when rs and err are set
	rs   remoteSpec
	err  error
	// waiting are the triggers whose Parse stopped waiting for it: their
	// owners are checked again when it answers (after the backoff when it
	// fails). Guarded by Source.mu.
	waiting map[store.Key]struct{}
}

// awaitSpec asks the scaler for id's metric spec and waits for the answer
// at most ParseWait; past that, k's owner is checked again once the
// answer comes, and the error says the scaler has not answered yet. When
// the last ask for id failed, it does not wait at all: it answers that
// failure while asking again, so a scaler that stays unreachable holds up
// no reconcile worker however often its owner is checked.
func (s *Source) awaitSpec(c Config, id sources.ResourceID, k store.Key) (remoteSpec, error) {
	f := s.fetchSpecAsync(c, id)
	s.mu.Lock()
	lastErr := s.specErrs[specKey(id)]
	s.mu.Unlock()
	if lastErr == nil {
		wait := time.NewTimer(s.opts.ParseWait)
		defer wait.Stop()
		select {
		case <-f.done:
		case <-wait.C:
		}
	}
	s.mu.Lock()
	select {
	case <-f.done:
		s.mu.Unlock()
	default:
		f.waiting[k] = struct{}{}
		s.mu.Unlock()
		if lastErr != nil {
			return remoteSpec{}, lastErr
		}
		return remoteSpec{}, fmt.Errorf("%s: GetMetricSpec of scalerAddress %s: no answer within %s; checked again when it answers",
			c.Type, c.ScalerAddress, s.opts.ParseWait)
	}
	if f.err != nil {
		s.retryLater(k)
		return remoteSpec{}, f.err
	}
	return f.rs, nil
}

// refreshSpec asks again, in the background, for a spec kept longer than
// SpecRefresh (KEDA asks at every HPA build); a changed answer is used
// from the next Parse.
func (s *Source) refreshSpec(c Config, id sources.ResourceID) {
	s.mu.Lock()
	stale := s.d.Clock.Since(s.fetchedAt[specKey(id)]) >= s.opts.SpecRefresh
	s.mu.Unlock()
	if stale {
		s.fetchSpecAsync(c, id)
	}
}

// fetchSpecAsync starts GetMetricSpec for id unless one is in flight, and
// returns it. fetchSpec keeps a successful answer.
func (s *Source) fetchSpecAsync(c Config, id sources.ResourceID) *specFetch {
	key := specKey(id)
	s.mu.Lock()
	if f := s.fetches[key]; f != nil {
		s.mu.Unlock()
		return f
	}
	f := &specFetch{done: make(chan struct{}), waiting: make(map[store.Key]struct{})}
	s.fetches[key] = f
	s.fetchedAt[key] = s.d.Clock.Now()
	s.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
		defer cancel()
		rs, err := s.fetchSpec(ctx, c, id)
		s.mu.Lock()
		delete(s.fetches, key)
		if err != nil {
			s.specErrs[key] = err
		} else {
			delete(s.specErrs, key)
		}
		f.rs, f.err = rs, err
		waiting := f.waiting
		f.waiting = nil
		close(f.done)
		stopped := s.stopped
		s.mu.Unlock()
		if stopped {
			return
		}
		for k := range waiting {
			if err != nil {
				s.retryLater(k)
			} else if s.d.Recheck != nil {
				s.d.Recheck(k.Owner)
			}
		}
	}()
	return f
}
