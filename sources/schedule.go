package sources

import (
	"context"
	"errors"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/store"
)

// This file is the read schedule of DESIGN.md ("When a trigger is read"),
// shared by every broker source. A source tells the Scheduler what it
// watches (resources, each with one authoritative read), what the broker
// pushed (hints), and how its push path is doing; the Scheduler decides when
// to read and fans every result out to the triggers on that resource.

// ResourceID names one broker resource: an endpoint (address, credential,
// db/vhost) and what is read there (key, stream+group, topic+group, queue,
// consumer). Two triggers with the same ResourceID share one read.
type ResourceID struct {
	// Endpoint identifies the connection (never holds a secret in clear:
	// sources put a hash of the credential in it).
	Endpoint string
	// Name identifies what is read on the endpoint (e.g. "list:jobs",
	// "stream:orders/group:g1").
	Name string
}

// ReadFunc performs one authoritative read (LLEN, XINFO GROUPS, ...). It
// must honour ctx. Its error is recorded as a failure of every trigger on
// the resource; it must not contain secrets. A read whose source decides
// activity on more than the value calls ReportActive with ctx.
type ReadFunc func(ctx context.Context) (float64, error)

// activityKey carries a read's *activity in its context.
type activityKey struct{}

// activity is what ReportActive sets for one read.
type activity struct {
	set, active bool
}

// ReportActive tells the Scheduler running the read of ctx that the
// value it returns is active (or not) whatever the activation thresholds
// say: KEDA's rabbitmq rate modes decide activity on more than the value.
// The resource is then active or idle by it, and it reaches the store
// (ActivitySink) for the scaler's decision. A read that does not call it
// is active when its value is above an attachment's threshold, as before.
// Outside a Scheduler's read it does nothing.
func ReportActive(ctx context.Context, active bool) {
	if a, ok := ctx.Value(activityKey{}).(*activity); ok {
		a.set, a.active = true, active
	}
}

// Reason labels pushscale_broker_reads_total.
type Reason string

// Why a read happened.
const (
	ReasonHint      Reason = "hint"      // the broker pushed a change
	ReasonPoll      Reason = "poll"      // pollingInterval (active, or push unavailable)
	ReasonRepair    Reason = "repair"    // slow sweep while idle and push healthy
	ReasonReconnect Reason = "reconnect" // after (re)connecting or (re)subscribing
	ReasonWatch     Reason = "watch"     // a trigger started watching
)

// SchedulerOptions configure a Scheduler.
type SchedulerOptions struct {
	// Source is the source's name, the "source" label of the reads counter.
	Source string
	// Sink receives values, failures and push health, per trigger.
	Sink Sink
	// Clock drives every timer; default the real clock.
	Clock clock.WithTicker
	// RepairInterval is the slow sweep of idle, push-healthy resources
	// (--repair-interval), spread with jitter; default 30 minutes.
	RepairInterval time.Duration
	// ActiveMinInterval bounds hint-driven reads of one resource while it is
	// active (trailing: the last hint is always followed by a read); default
	// 250 ms.
	ActiveMinInterval time.Duration
	// Reads is pushscale_broker_reads_total{source,reason}; nil: not counted.
	Reads *prometheus.CounterVec
	// ReadTimeout bounds one read; default 10 s.
	ReadTimeout time.Duration
}

// Attachment is one trigger on a resource.
type Attachment struct {
	Key store.Key
	// Activation is the trigger's activation threshold: the resource is
	// idle while its value is ≤ the threshold of every attachment.
	Activation float64
	// PollingInterval is the owner's pollingInterval.
	PollingInterval time.Duration
}

// Scheduler schedules reads. It is safe for concurrent use. Its rules:
//
//   - A read happens when a trigger attaches (ReasonWatch), after every
//     Reconnected of the resource's endpoint, on hints, every
//     pollingInterval (the smallest of the attachments', jittered) while the
//     resource is active (value > some attachment's activation threshold) or
//     its push path is unhealthy, and every RepairInterval (jittered) while
//     idle and healthy.
//   - At most one read per resource is in flight; any number of hints
//     during a read cause exactly one follow-up read. While active, hint
//     reads of one resource are at least ActiveMinInterval apart (trailing).
//   - Results fan out to every attachment: Sink.Record on success,
//     Sink.Fail on error.
//   - Leading edge: Hint with additive=true on a resource whose last value
//     was 0 records 1 (a true lower bound) for every attachment at once,
//     before the read that follows, so a target at zero wakes without
//     waiting for the read.
type Scheduler struct {
	opts SchedulerOptions
	// reads holds the counter of each Reason; empty when not counted.
	reads map[Reason]prometheus.Counter

	// mu guards everything below and every resource and endpoint. The sink
	// is called with mu held, so that a Detach or the end of Start is a
	// clear line after which nothing is recorded for what they removed; the
	// sink never blocks and must not call back into the Scheduler.
	mu        sync.Mutex
	state     runState
	ctx       context.Context // Start's; set once running
	endpoints map[string]*endpoint
	keys      map[store.Key]*resource
	timers    timerHeap     // resources with a timer, earliest first
	wake      chan struct{} // capacity 1: the earliest timer changed
	workers   int           // read goroutines alive, over every endpoint
	waiting   bool          // Start's loop is blocked until its next timer
	wg        sync.WaitGroup
}

// runState is where a Scheduler is in its life.
type runState int

const (
	notStarted runState = iota // reads queue up
	running                    // reads run; Start waits for them when it ends
	stopped                    // Start has ended: no read runs, the sink is not called
)

// The defaults of SchedulerOptions and Attachment.
const (
	defaultRepairInterval    = 30 * time.Minute
	defaultActiveMinInterval = 250 * time.Millisecond
	defaultReadTimeout       = 10 * time.Second
	defaultPollingInterval   = 30 * time.Second // KEDA's
)

// NewScheduler returns a scheduler; nothing runs until Start.
func NewScheduler(opts SchedulerOptions) *Scheduler {
	if opts.Sink == nil {
		panic("sources: SchedulerOptions.Sink is nil")
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.RepairInterval <= 0 {
		opts.RepairInterval = defaultRepairInterval
	}
	if opts.ActiveMinInterval <= 0 {
		opts.ActiveMinInterval = defaultActiveMinInterval
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = defaultReadTimeout
	}
	s := &Scheduler{
		opts:      opts,
		reads:     make(map[Reason]prometheus.Counter),
		endpoints: make(map[string]*endpoint),
		keys:      make(map[store.Key]*resource),
		wake:      make(chan struct{}, 1),
	}
	if opts.Reads != nil {
		// Created up front so that every series exists from the start.
		for _, r := range []Reason{ReasonHint, ReasonPoll, ReasonRepair, ReasonReconnect, ReasonWatch} {
			s.reads[r] = opts.Reads.WithLabelValues(opts.Source, string(r))
		}
	}
	return s
}

// Attach adds a trigger to resource id, read by read. The first attachment
// creates the resource; later ones share it (their read is ignored, the
// first stays). Attaching a key that is attached elsewhere moves it.
func (s *Scheduler) Attach(id ResourceID, read ReadFunc, a Attachment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	if old := s.keys[a.Key]; old != nil && old.id != id {
		s.detach(old, a.Key, now)
	}
	r := s.resource(id, read)
	r.att.set(a)
	s.keys[a.Key] = r
	fresh := r.known && !r.failed
	if s.state != stopped {
		if r.pushSet {
			s.opts.Sink.SetPush(a.Key, r.push)
		}
		if fresh {
			s.record(a.Key, r)
		}
	}
	// A read in flight fans out to the new attachment too.
	if !fresh && !r.inFlight {
		s.ready(r, ReasonWatch)
	}
	s.plan(r, now, false)
}

// Detach removes trigger k from whatever resource it is attached to; the
// last detach removes the resource and its timers. It reports whether the
// resource of k is now gone (so the source can unsubscribe).
func (s *Scheduler) Detach(k store.Key) (id ResourceID, gone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.keys[k]
	if r == nil {
		return ResourceID{}, false
	}
	return r.id, s.detach(r, k, s.opts.Clock.Now())
}

// Hint reports a push notification for resource id. additive is true for
// events that add work (LPUSH, XADD, a new high watermark). Unknown ids are
// ignored. It never blocks.
func (s *Scheduler) Hint(id ResourceID, additive bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.lookup(id)
	if r == nil {
		return
	}
	now := s.opts.Clock.Now()
	// Once per read: the sink already holds 1 after the first such hint.
	if additive && r.known && r.value == 0 && !r.lifted && s.state != stopped && (r.explicit == nil || !*r.explicit) {
		r.lifted = true
		for _, a := range r.att {
			s.opts.Sink.Record(a.Key, 1, now)
		}
	}
	s.hint(r, now)
}

// Reconnected reads every resource of endpoint at once (its push path was
// just (re)established, so changes may have been missed).
func (s *Scheduler) Reconnected(endpoint string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.endpoints[endpoint]; e != nil {
		for _, r := range e.resources {
			s.ready(r, ReasonReconnect)
		}
	}
}

// SetPush records the push health of every resource of endpoint (or of one
// resource when name is not empty) and reports it to the sink for their
// attachments. Unhealthy resources are polled every pollingInterval.
func (s *Scheduler) SetPush(endpoint, name string, p store.Push) {
	// The health given for a whole endpoint also holds for the resources
	// attached to it later. Until a resource has a health it is polled as
	// if unhealthy: a push source reports Healthy once it is subscribed.
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Clock.Now()
	if name == "" {
		e := s.endpoint(endpoint)
		e.push, e.pushSet = p, true
		for _, r := range e.resources {
			s.setPush(r, p, now)
		}
		return
	}
	if r := s.lookup(ResourceID{Endpoint: endpoint, Name: name}); r != nil {
		s.setPush(r, p, now)
	}
}

// Resources returns the ids of the resources of endpoint (all when
// endpoint is ""), e.g. to (re)subscribe after a reconnect.
func (s *Scheduler) Resources(endpoint string) []ResourceID {
	s.mu.Lock()
	var out []ResourceID
	for name, e := range s.endpoints {
		if endpoint != "" && name != endpoint {
			continue
		}
		for _, r := range e.resources {
			out = append(out, r.id)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Endpoint != out[j].Endpoint {
			return out[i].Endpoint < out[j].Endpoint
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Start runs the timers and reads until ctx is done, waits for reads in
// flight, and never calls the sink after returning.
func (s *Scheduler) Start(ctx context.Context) error {
	// Reads run in worker goroutines owned here (see work), with ctx. A
	// second call is a programming error.
	s.mu.Lock()
	if s.state != notStarted {
		s.mu.Unlock()
		return errors.New("sources: scheduler started twice")
	}
	s.state, s.ctx = running, ctx
	for _, e := range s.endpoints {
		s.dispatch(e) // what was attached before Start
	}
	s.mu.Unlock()
	defer s.stop()
	s.loop(ctx)
	return nil
}
