package sources

import (
	"math/rand/v2"
	"time"

	"github.com/pushscale/pushscale/store"
)

// resource is one broker resource of a Scheduler: its triggers, its read,
// what the last read found and when it is read next. Every field is guarded
// by the Scheduler's mutex.
type resource struct {
	id   ResourceID
	ep   *endpoint
	read ReadFunc
	att  attachments

	value  float64   // the last successful read; meaningful when known
	known  bool      // a read has succeeded
	at     time.Time // when the last successful read ended
	failed bool      // the last read failed
	lifted bool      // a leading edge was recorded since the last read
	// explicit is the activity the last successful read decided
	// (ReportActive); nil: by the value and the thresholds.
	explicit *bool

	push    store.Push
	pushSet bool // push has been reported

	queued    Reason    // waiting in ep's queue for this reason; "" when not
	urgent    bool      // queued in ep.urgent
	inFlight  bool      // a read runs
	pending   Reason    // read again once the read in flight ends; "" when not
	lastStart time.Time // when the last read started

	mode   Reason    // ReasonPoll or ReasonRepair: what due is for
	due    time.Time // next periodic read; zero when none
	hintAt time.Time // next trailing hint read; zero when none
	wake   time.Time // the earlier of due and hintAt: the key in the heap
	index  int       // position in the timer heap; -1 when not in it
	gone   bool      // detached: nothing is recorded for it any more
}

// endpoint groups the resources of one connection, with the push health
// reported for all of them and the queue of reads waiting to run.
type endpoint struct {
	name      string
	resources map[string]*resource // by ResourceID.Name
	push      store.Push
	pushSet   bool

	// Reads waiting for a worker. Entries whose resource is no longer
	// queued (read since, or gone) are skipped.
	urgent  []*resource // watch and hint reads: someone waits for them
	bulk    []*resource // reconnect, poll and repair reads
	queued  int         // resources queued
	workers int         // worker goroutines alive
	busy    int         // workers inside a read (not holding the lock)
}

// next pops the next queued resource, urgent ones first; nil when none.
func (e *endpoint) next() *resource {
	for _, q := range []*[]*resource{&e.urgent, &e.bulk} {
		for len(*q) > 0 {
			r := (*q)[0]
			(*q)[0] = nil
			*q = (*q)[1:]
			if r.queued != "" && !r.gone {
				e.queued--
				return r
			}
		}
	}
	return nil
}

// active reports whether the value is above the activation threshold of
// some attachment.
func (r *resource) active() bool {
	if !r.known {
		return false
	}
	if r.explicit != nil {
		return *r.explicit
	}
	for _, a := range r.att {
		if r.value > a.Activation {
			return true
		}
	}
	return false
}

// pollingInterval is the smallest pollingInterval of the attachments.
func (r *resource) pollingInterval() time.Duration {
	var least time.Duration
	for _, a := range r.att {
		iv := a.PollingInterval
		if iv <= 0 {
			iv = defaultPollingInterval
		}
		if least == 0 || iv < least {
			least = iv
		}
	}
	if least == 0 {
		least = defaultPollingInterval
	}
	return least
}

// cadence returns what the periodic timer of r is for and its interval:
// the slow repair sweep while idle and push-healthy, pollingInterval
// otherwise. A failed read is retried at pollingInterval, as KEDA would,
// rather than left for the sweep.
func (r *resource) cadence(repair time.Duration) (Reason, time.Duration) {
	if r.pushSet && r.push.Healthy && !r.failed && !r.active() {
		return ReasonRepair, repair
	}
	return ReasonPoll, r.pollingInterval()
}

// nextWake returns the earlier of r's timers; zero when it has none.
func (r *resource) nextWake() time.Time {
	switch {
	case r.gone:
		return time.Time{}
	case r.due.IsZero():
		return r.hintAt
	case r.hintAt.IsZero() || r.due.Before(r.hintAt):
		return r.due
	default:
		return r.hintAt
	}
}

// jitter spreads d by ±10 %.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

// spread returns a random duration in (0, d]: the first poll of a resource
// that has just started polling comes within one interval, and those of an
// endpoint whose push path went away together do not come at once.
func spread(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (1 - rand.Float64()))
}

// lookup returns the resource id, nil when none.
func (s *Scheduler) lookup(id ResourceID) *resource {
	if e := s.endpoints[id.Endpoint]; e != nil {
		return e.resources[id.Name]
	}
	return nil
}

// endpoint returns the endpoint named name, creating it.
func (s *Scheduler) endpoint(name string) *endpoint {
	e := s.endpoints[name]
	if e == nil {
		e = &endpoint{name: name, resources: make(map[string]*resource)}
		s.endpoints[name] = e
	}
	return e
}

// resource returns the resource id, creating it with read and the push
// health of its endpoint.
func (s *Scheduler) resource(id ResourceID, read ReadFunc) *resource {
	e := s.endpoint(id.Endpoint)
	r := e.resources[id.Name]
	if r == nil {
		r = &resource{
			id:      id,
			ep:      e,
			read:    read,
			push:    e.push,
			pushSet: e.pushSet,
			index:   -1,
		}
		e.resources[id.Name] = r
	}
	return r
}

// detach removes k from r and reports whether r is gone with it.
func (s *Scheduler) detach(r *resource, k store.Key, now time.Time) bool {
	r.att.remove(k)
	delete(s.keys, k)
	if len(r.att) > 0 {
		s.plan(r, now, false) // the interval or the activity may have changed
		return false
	}
	r.gone = true
	r.pending = ""
	if r.queued != "" {
		r.queued = ""
		r.ep.queued--
	}
	s.retime(r) // cancels its timers
	e := r.ep
	delete(e.resources, r.id.Name)
	// An endpoint's push health outlives its resources: the source may
	// attach new ones to the same connection without reporting it again.
	if len(e.resources) == 0 && !e.pushSet {
		delete(s.endpoints, e.name)
	}
	return true
}

// setPush records the push health of r and tells its attachments.
func (s *Scheduler) setPush(r *resource, p store.Push, now time.Time) {
	r.push, r.pushSet = p, true
	if s.state != stopped {
		for _, a := range r.att {
			s.opts.Sink.SetPush(a.Key, p)
		}
	}
	s.plan(r, now, false)
}

// hint asks for a read of r after a push: at once, unless r is active and
// read less than ActiveMinInterval ago, then as soon as that allows
// (trailing). A read in flight is followed by exactly one more.
func (s *Scheduler) hint(r *resource, now time.Time) {
	notBefore := r.lastStart.Add(s.opts.ActiveMinInterval)
	switch {
	case r.inFlight:
		if r.pending == "" {
			r.pending = ReasonHint
		}
	case r.queued == "" && r.active() && now.Before(notBefore):
		if r.hintAt.IsZero() {
			r.hintAt = notBefore
			s.retime(r)
		}
	default:
		s.ready(r, ReasonHint)
	}
}

// ready queues a read of r for reason, or, while r is read, asks for one
// more once that read ends. A read already queued covers this one.
func (s *Scheduler) ready(r *resource, reason Reason) {
	if r.gone {
		return
	}
	urgent := reason == ReasonHint || reason == ReasonWatch
	e := r.ep
	switch {
	case r.inFlight:
		if r.pending == "" {
			r.pending = reason
		}
		return
	case r.queued != "":
		if !urgent || r.urgent {
			return
		}
		r.urgent = true // next() skips the older entry in bulk
		e.urgent = append(e.urgent, r)
	default:
		r.queued, r.urgent = reason, urgent
		e.queued++
		if urgent {
			e.urgent = append(e.urgent, r)
		} else {
			e.bulk = append(e.bulk, r)
		}
	}
	s.dispatch(e)
}

// plan sets the periodic timer of r. After a read (afterRead) it is set
// one jittered interval ahead. Otherwise it is kept unless what it is for
// changed (a push path lost or back, activity changed by an attachment) or
// a shorter pollingInterval asks for an earlier poll.
func (s *Scheduler) plan(r *resource, now time.Time, afterRead bool) {
	if r.gone || r.inFlight {
		return // the read's end plans
	}
	mode, iv := r.cadence(s.opts.RepairInterval)
	switch {
	case afterRead:
		r.due = now.Add(jitter(iv))
	case r.due.IsZero() || mode != r.mode:
		if mode == ReasonPoll {
			r.due = now.Add(spread(iv))
		} else {
			r.due = now.Add(jitter(iv))
		}
	case mode == ReasonPoll && r.due.After(now.Add(iv+iv/10)):
		r.due = now.Add(spread(iv))
	default:
		return
	}
	r.mode = mode
	s.retime(r)
}

// attachments are a resource's triggers, each key once. A slice, not a
// map: nearly every resource has one trigger, and a map of one holds a
// whole group of slots (about 1 KiB here) for it.
type attachments []Attachment

// set adds a, or replaces the attachment of its key.
func (as *attachments) set(a Attachment) {
	for i := range *as {
		if (*as)[i].Key == a.Key {
			(*as)[i] = a
			return
		}
	}
	*as = append(*as, a)
}

// remove drops the attachment of k, if any.
func (as *attachments) remove(k store.Key) {
	for i := range *as {
		if (*as)[i].Key == k {
			last := len(*as) - 1
			(*as)[i] = (*as)[last]
			(*as)[last] = Attachment{}
			*as = (*as)[:last]
			if len(*as) == 0 {
				*as = nil // the backing array goes with the last one
			}
			return
		}
	}
}
