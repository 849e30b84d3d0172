package external

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"k8s.io/utils/clock"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// The PushHealthy reasons this source reports.
const (
	ReasonSubscribed       = "Subscribed"
	ReasonSubscriptionLost = "SubscriptionLost"
	ReasonNotSupported     = "NotSupported"
	ReasonDisabledByConfig = "DisabledByConfig"
)

// Defaults of Options: KEDA's StreamIsActive backoff, 2 s doubling to 1 min.
const (
	DefaultTimeout      = 5 * time.Second
	DefaultParseWait    = time.Second
	DefaultSpecRefresh  = time.Minute
	DefaultOpenTimeout  = 10 * time.Second
	DefaultFirstBackoff = 2 * time.Second
	DefaultMaxBackoff   = time.Minute
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// Timeout bounds a GetMetricSpec call; default 5 s. Reads are bounded
	// by the Scheduler's read timeout.
	Timeout time.Duration
	// ParseWait bounds how long Parse waits for a trigger's first metric
	// spec (default 1 s): a scaler that does not answer by then holds
	// up no reconcile worker (a tenant's unreachable address cannot delay
	// the others' ScaledObjects); its owner is checked again when it
	// answers, or after the backoff when it fails.
	ParseWait time.Duration
	// SpecRefresh is how often a kept metric spec is asked for again, in
	// the background, when Parse is called (default 1 min).
	SpecRefresh time.Duration
	// OpenTimeout bounds the wait for a connection when a stream is
	// opened; default 10 s.
	OpenTimeout time.Duration
	// FirstBackoff and MaxBackoff are the wait before opening a lost
	// stream again, doubled per failed attempt up to MaxBackoff and reset
	// after a healthy stream; default KEDA's 2 s and 1 min. The same
	// waits space the rechecks of a trigger whose metric spec could not be
	// had.
	FirstBackoff, MaxBackoff time.Duration
}

func (o Options) withDefaults() Options {
	sources.Default(&o.Timeout, DefaultTimeout)
	sources.Default(&o.ParseWait, DefaultParseWait)
	sources.Default(&o.SpecRefresh, DefaultSpecRefresh)
	sources.Default(&o.OpenTimeout, DefaultOpenTimeout)
	sources.Default(&o.FirstBackoff, DefaultFirstBackoff)
	sources.Default(&o.MaxBackoff, DefaultMaxBackoff)
	return o
}

// backoff is the wait after n failed attempts.
func (o Options) backoff(n int) time.Duration {
	return min(o.FirstBackoff<<min(n, 16), o.MaxBackoff)
}

// Source serves external and external-push triggers. It is safe for
// concurrent use.
type Source struct {
	*sources.Endpoints[*endpoint, *resource]
	d    sources.Deps
	opts Options

	mu      sync.Mutex
	specs   map[string]remoteSpec     // by resource id (endpoint, name): the scaler's answer
	live    map[string]*endpoint      // by endpoint id: connections Parse may borrow
	retries map[store.Key]*retryTimer // owners to recheck: their spec could not be had
	// fetches are the GetMetricSpec calls in flight, by resource id; one
	// per id however many Parses ask.
	fetches   map[string]*specFetch
	fetchedAt map[string]time.Time // by resource id: when its spec was last asked for
	specErrs  map[string]error     // by resource id: why the last ask failed (none: it did not)
	stopped   bool
}

// remoteSpec is the first metric spec a scaler gave for a trigger.
type remoteSpec struct {
	name   string
	target float64
}

type retryTimer struct {
	n     int
	timer stopper
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry: one
// source for both types, so that they share connections.
func Family(opts Options) sources.Family {
	return sources.Family{Name: Type, Types: []string{Type, TypePush}, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start. It panics without d.Scheduler.
func New(d sources.Deps, opts Options) *Source {
	if d.Scheduler == nil {
		panic("external: Deps.Scheduler is nil")
	}
	sources.DefaultClockLogger(&d.Clock, &d.Logger)
	return &Source{
		Endpoints: sources.NewEndpoints[*endpoint, *resource](d.Scheduler),
		d:         d,
		opts:      opts.withDefaults(),
		specs:     make(map[string]remoteSpec),
		live:      make(map[string]*endpoint),
		retries:   make(map[store.Key]*retryTimer),
		fetches:   make(map[string]*specFetch),
		fetchedAt: make(map[string]time.Time),
		specErrs:  make(map[string]error),
	}
}

// Parse validates t and asks its scaler for the metric spec (GetMetricSpec,
// as KEDA does whenever it builds the HPA): the metric name is
// s<index>-<the scaler's metricName>, not normalised; the target is
// targetSizeFloat when > 0, else targetSize. Only the first spec is used.
// A spec the scaler gave is kept and used at once (asked again in the
// background every SpecRefresh), so Parse blocks only for a trigger's first
// spec, at most ParseWait, and not at all while the last ask failed (see
// awaitSpec). Without a spec Parse fails, and the owner is checked again
// (Deps.Recheck) when the scaler answers, or after KEDA's backoff when it
// fails, so it becomes Ready once the scaler answers. Parse writes nothing
// to the sink.
func (s *Source) Parse(t sources.Trigger) (sources.Spec, error) {
	c, err := ParseConfig(t)
	if err != nil {
		return sources.Spec{}, err
	}
	id := s.resourceID(c)
	if rs, ok := s.cachedSpec(id); ok {
		s.refreshSpec(c, id)
		s.retried(t.Key)
		return rs.spec(t.Key.Trigger), nil
	}
	rs, err := s.awaitSpec(c, id, t.Key)
	if err != nil {
		return sources.Spec{}, err
	}
	s.retried(t.Key)
	return rs.spec(t.Key.Trigger), nil
}

func (rs remoteSpec) spec(index int) sources.Spec {
	return sources.Spec{MetricName: "s" + strconv.Itoa(index) + "-" + rs.name, Target: rs.target}
}

// Watch starts reading t: GetMetrics and IsActive through the Scheduler on
// a connection shared by every trigger with the same address and TLS
// settings; with external-push, one StreamIsActive per distinct request.
// It does no I/O. An invalid trigger is no longer watched (if it was).
func (s *Source) Watch(t sources.Trigger) error {
	c, err := ParseConfig(t)
	if err != nil {
		s.Unwatch(t.Key)
		return err
	}
	id := s.resourceID(c)
	a := sources.Attachment{Key: t.Key, PollingInterval: t.PollingInterval}
	return s.Endpoints.Watch(a, sources.Binding[*endpoint, *resource]{
		Endpoint:    id.Endpoint,
		NewEndpoint: func() (*endpoint, error) { return newEndpoint(s, id.Endpoint, c) },
		Resource:    id.Name,
		NewResource: func(ep *endpoint, id sources.ResourceID) *resource { return newResource(s, ep, id, c) },
	})
}

// Start runs the connections and streams until ctx is done; see
// sources.Endpoints.Start. No recheck is asked for after it returns.
func (s *Source) Start(ctx context.Context) error {
	err := s.Endpoints.Start(ctx)
	s.mu.Lock()
	s.stopped = true
	for k, r := range s.retries {
		r.timer.Stop()
		delete(s.retries, k)
	}
	s.mu.Unlock()
	return err
}

func (s *Source) resourceID(c Config) sources.ResourceID {
	return sources.ResourceID{Endpoint: c.endpointID(s.Hash), Name: c.resourceName(s.Hash)}
}

func specKey(id sources.ResourceID) string { return id.Endpoint + "\x00" + id.Name }

// fetchSpec calls GetMetricSpec on a connection of the pool when one is
// open for c, on a connection of its own otherwise, and keeps the answer
// for the reads and for Parse's fallback.
func (s *Source) fetchSpec(ctx context.Context, c Config, id sources.ResourceID) (remoteSpec, error) {
	s.mu.Lock()
	ep := s.live[id.Endpoint]
	s.mu.Unlock()
	client := pb.ExternalScalerClient(nil)
	if ep != nil {
		client = ep.client
	} else {
		conn, err := dial(c)
		if err != nil {
			return remoteSpec{}, err
		}
		defer conn.Close()
		client = pb.NewExternalScalerClient(conn)
	}
	resp, err := client.GetMetricSpec(ctx, ref(c))
	if err != nil {
		return remoteSpec{}, rpcError(c, "GetMetricSpec", err)
	}
	specs := resp.GetMetricSpecs()
	if len(specs) == 0 {
		return remoteSpec{}, fmt.Errorf("%s: GetMetricSpec of scalerAddress %s: no metric spec returned", c.Type, c.ScalerAddress)
	}
	rs := remoteSpec{name: specs[0].GetMetricName(), target: float64(specs[0].GetTargetSize())}
	if f := specs[0].GetTargetSizeFloat(); f > 0 {
		rs.target = f
	}
	if rs.name == "" {
		return remoteSpec{}, fmt.Errorf("%s: GetMetricSpec of scalerAddress %s: empty metricName", c.Type, c.ScalerAddress)
	}
	if !(rs.target > 0) {
		return remoteSpec{}, fmt.Errorf("%s: GetMetricSpec of scalerAddress %s: metric %q: target must be greater than 0", c.Type, c.ScalerAddress, rs.name)
	}
	s.mu.Lock()
	s.specs[specKey(id)] = rs
	s.mu.Unlock()
	return rs, nil
}

// cachedSpec returns the spec kept for resource id.
func (s *Source) cachedSpec(id sources.ResourceID) (remoteSpec, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs, ok := s.specs[specKey(id)]
	return rs, ok
}

// forgetSpec drops the spec of a resource that lost its last trigger.
func (s *Source) forgetSpec(id sources.ResourceID) {
	s.mu.Lock()
	delete(s.specs, specKey(id))
	delete(s.fetchedAt, specKey(id))
	delete(s.specErrs, specKey(id))
	s.mu.Unlock()
}

// retryLater asks, after the next backoff, for k's owner to be checked
// again.
func (s *Source) retryLater(k store.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped || s.d.Recheck == nil {
		return
	}
	r := s.retries[k]
	if r == nil {
		r = &retryTimer{}
		s.retries[k] = r
	} else {
		r.timer.Stop()
	}
	owner := k.Owner
	r.timer = afterFunc(s.d.Clock, s.opts.backoff(r.n), func() { s.d.Recheck(owner) })
	r.n++
}

// retried forgets k's rechecks: its spec was had.
func (s *Source) retried(k store.Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.retries[k]; r != nil {
		r.timer.Stop()
		delete(s.retries, k)
	}
}

// afterFunc is clock.Clock's AfterFunc on c (the real clock and the
// testing clocks have it), time's otherwise.
func afterFunc(c clock.WithTicker, d time.Duration, f func()) stopper {
	if ac, ok := c.(interface {
		AfterFunc(time.Duration, func()) clock.Timer
	}); ok {
		return ac.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f)
}

// stopper is what afterFunc returns.
type stopper interface{ Stop() bool }
