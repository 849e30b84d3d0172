package sources

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/store"
)

// Schedule is what a source uses of its Scheduler: the Endpoints attach
// and detach triggers, the push paths report hints, reconnects and push
// health. *Scheduler implements it; tests may wrap one.
type Schedule interface {
	Attach(id ResourceID, read ReadFunc, a Attachment)
	Detach(k store.Key) (ResourceID, bool)
	Hint(id ResourceID, additive bool)
	Reconnected(endpoint string)
	SetPush(endpoint, name string, p store.Push)
}

var _ Schedule = (*Scheduler)(nil)

// Deps are what every source is built with: the Manager makes them, one
// set per family.
type Deps struct {
	// Name is the family's name ("redis"), for logs and metric labels.
	Name string
	// Sink receives values, failures and push health. Sources whose values
	// are read go through Scheduler instead, which writes to the Sink.
	Sink Sink
	// Scheduler is the family's own read schedule (DESIGN.md's "When a
	// trigger is read"), run by the Manager beside the source: there is one
	// per family, so its reads are counted under the family's name.
	Scheduler Schedule
	// Clock drives every timer; the real clock unless a test fakes it.
	Clock clock.WithTicker
	// Logger is the gateway's logger with source=<Name>.
	Logger *slog.Logger
	// DisablePush lists the trigger types whose push path is turned off
	// (--disable-push): they are polled every pollingInterval and report
	// PushHealthy=False DisabledByConfig.
	DisablePush map[string]bool
	// Recheck asks for an owner to be checked again (its triggers'
	// Check answers may have changed): see Checker. Never nil.
	Recheck func(store.Owner)
}

// PushDisabled reports whether push is turned off for trigger type typ.
func (d Deps) PushDisabled(typ string) bool { return d.DisablePush[typ] }

// Constructor builds a family's source. It runs once, with the family's
// Deps, and must not start anything: the Manager calls Start.
type Constructor func(d Deps) Source

// Family is a set of trigger types served by one source (redis serves six).
type Family struct {
	// Name names the family (and its source) in logs and metrics.
	Name string
	// Types are the trigger types it serves.
	Types []string
	// New builds its source.
	New Constructor
	// NeverRead marks a family whose values are never read (webhook
	// streams: the gateway is their source of truth). It gets no
	// Scheduler: Deps.Scheduler is nil.
	NeverRead bool
}

// DefaultClockLogger sets a nil *c to the real clock and a nil *l to a
// logger that discards: the defaults of every Clock and Logger option.
func DefaultClockLogger(c *clock.WithTicker, l **slog.Logger) {
	if *c == nil {
		*c = clock.RealClock{}
	}
	if *l == nil {
		*l = slog.New(slog.DiscardHandler)
	}
}

// Registry lists the families the gateway serves: each trigger type maps to
// the constructor of the family that serves it.
type Registry []Family

// ManagerOptions are the dependencies the Manager shares out as Deps.
type ManagerOptions struct {
	// Sink is the gateway's store.
	Sink Sink
	// Clock is the real clock unless a test fakes it.
	Clock clock.WithTicker
	// Logger defaults to discarding.
	Logger *slog.Logger
	// RepairInterval is --repair-interval, for every family's Scheduler.
	RepairInterval time.Duration
	// Reads is pushscale_broker_reads_total{source,reason}; nil: not counted.
	Reads *prometheus.CounterVec
	// DisablePush is --disable-push, by trigger type.
	DisablePush map[string]bool
	// Recheck is called by sources for an owner whose triggers' Check
	// answers may have changed (the scaler reconciles it again); it must
	// not block. Nil: nobody is told.
	Recheck func(store.Owner)
}

// Manager builds the sources of a Registry, dispatches triggers to them by
// type and runs them with their Schedulers. It is safe for concurrent use.
type Manager struct {
	byType  map[string]Source
	sources []Source
	scheds  []*Scheduler
}

// NewManager builds every family's source and Scheduler. A trigger type
// registered twice is an error.
func NewManager(reg Registry, opts ManagerOptions) (*Manager, error) {
	DefaultClockLogger(&opts.Clock, &opts.Logger)
	if opts.Recheck == nil {
		opts.Recheck = func(store.Owner) {}
	}
	m := &Manager{byType: make(map[string]Source)}
	for _, f := range reg {
		d := Deps{
			Name: f.Name, Sink: opts.Sink, Clock: opts.Clock,
			Logger: opts.Logger.With("source", f.Name), DisablePush: opts.DisablePush,
			Recheck: opts.Recheck,
		}
		if !f.NeverRead {
			sched := NewScheduler(SchedulerOptions{
				Source: f.Name, Sink: opts.Sink, Clock: opts.Clock,
				RepairInterval: opts.RepairInterval, Reads: opts.Reads,
			})
			d.Scheduler = sched
			m.scheds = append(m.scheds, sched)
		}
		src := f.New(d)
		for _, t := range f.Types {
			if _, dup := m.byType[t]; dup {
				return nil, fmt.Errorf("sources: trigger type %q registered twice", t)
			}
			m.byType[t] = src
		}
		m.sources = append(m.sources, src)
	}
	return m, nil
}

// Types returns the served trigger types in order.
func (m *Manager) Types() []string {
	out := make([]string, 0, len(m.byType))
	for t := range m.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func (m *Manager) source(typ string) (Source, error) {
	s, ok := m.byType[typ]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, typ)
	}
	return s, nil
}

// Parse validates t with its source; ErrUnsupported for an unknown type.
func (m *Manager) Parse(t Trigger) (Spec, error) {
	s, err := m.source(t.Type)
	if err != nil {
		return Spec{}, err
	}
	return s.Parse(t)
}

// Watch hands t to its source.
func (m *Manager) Watch(t Trigger) error {
	s, err := m.source(t.Type)
	if err != nil {
		return err
	}
	return s.Watch(t)
}

// Check asks the source of type typ whether watched trigger k is served:
// nil unless the source is a Checker that refuses k.
func (m *Manager) Check(typ string, k store.Key) error {
	if c, ok := m.byType[typ].(Checker); ok {
		return c.Check(k)
	}
	return nil
}

// Unwatch takes trigger k of type typ back from its source.
func (m *Manager) Unwatch(typ string, k store.Key) {
	if s, err := m.source(typ); err == nil {
		s.Unwatch(k)
	}
}

// Start runs every source and Scheduler until ctx is done and returns the
// first error any of them returns.
func (m *Manager) Start(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, s := range m.sources {
		g.Go(func() error { return s.Start(ctx) })
	}
	for _, s := range m.scheds {
		g.Go(func() error { return s.Start(ctx) })
	}
	return g.Wait()
}
