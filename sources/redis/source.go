package redis

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Defaults of Options.
const (
	DefaultDialTimeout         = 5 * time.Second
	DefaultPoolSize            = 1
	DefaultTopologyInterval    = 5 * time.Second
	DefaultConfigCheckInterval = time.Minute
	DefaultHealthCheckInterval = 30 * time.Second
)

// ErrStopped is returned by Watch once Start has returned.
var ErrStopped = errors.New("redis: source stopped")

// Options configure a Source. The zero value is usable.
type Options struct {
	// Scheduler is the gateway's shared read scheduler, which the gateway
	// starts and stops. When nil, the source creates its own (writing to
	// the sink given to New) and runs it inside Start. With a shared
	// scheduler the sink given to New is not used: the scheduler's is.
	Scheduler *sources.Scheduler
	// RepairInterval and Reads configure the source's own scheduler (see
	// sources.SchedulerOptions); they are ignored with a shared one.
	RepairInterval time.Duration
	Reads          *prometheus.CounterVec

	// Logger receives connection and configuration events; default
	// discards.
	Logger *slog.Logger
	// Clock drives backoff and periodic checks; default the real clock.
	Clock clock.WithTicker

	// ConfigureNotifications lets the source add the notification classes
	// its triggers need to notify-keyspace-events with CONFIG SET, merged
	// into the flags already set, never replacing them
	// (--redis-configure-notifications). Off: the source only reads the
	// setting, and polls resources it does not cover.
	ConfigureNotifications bool
	// DisablePush turns push off by trigger type (e.g. "redis-streams"):
	// resources of those types are not subscribed, report
	// DisabledByConfig, and are polled every pollingInterval.
	DisablePush map[string]bool

	// DialTimeout bounds connecting to a server; default 5 s.
	DialTimeout time.Duration
	// PoolSize is the number of connections used for reads per server
	// node, beside its one subscription connection; default 1.
	PoolSize int
	// TopologyInterval is how often a cluster's slot map and a sentinel's
	// master are checked while the endpoint is watched; default 5 s.
	TopologyInterval time.Duration
	// ConfigCheckInterval is how often notify-keyspace-events is read
	// again on a subscribed node (and channels refused earlier are tried
	// again); default 1 minute.
	ConfigCheckInterval time.Duration
	// HealthCheckInterval is how long a subscription connection may be
	// silent before it is PINGed (and twice that before it is dropped);
	// default 30 s.
	HealthCheckInterval time.Duration

	// scheduler replaces the Scheduler in tests.
	scheduler scheduler
}

func (o Options) withDefaults() Options {
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.PoolSize <= 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.TopologyInterval <= 0 {
		o.TopologyInterval = DefaultTopologyInterval
	}
	if o.ConfigCheckInterval <= 0 {
		o.ConfigCheckInterval = DefaultConfigCheckInterval
	}
	if o.HealthCheckInterval <= 0 {
		o.HealthCheckInterval = DefaultHealthCheckInterval
	}
	return o
}

// scheduler is what the source uses of *sources.Scheduler.
type scheduler interface {
	Attach(id sources.ResourceID, read sources.ReadFunc, a sources.Attachment)
	Detach(k store.Key) (sources.ResourceID, bool)
	Hint(id sources.ResourceID, additive bool)
	Reconnected(endpoint string)
	SetPush(endpoint, name string, p store.Push)
}

var _ scheduler = (*sources.Scheduler)(nil)

// Source serves the six redis trigger types. It is safe for concurrent use.
type Source struct {
	opts  Options
	log   *slog.Logger
	sched scheduler
	own   *sources.Scheduler // the scheduler Start runs, nil when shared
	salt  []byte             // keys the credential hashes in endpoint ids

	mu        sync.Mutex
	running   context.Context // Start's context while it runs
	started   bool
	stopped   bool
	endpoints map[string]*endpoint
	watches   map[store.Key]watch
}

// watch is one watched trigger.
type watch struct {
	ep  *endpoint
	res *resource
}

var _ sources.Source = (*Source)(nil)

// New returns a source. Without Options.Scheduler it creates its own
// scheduler writing to sink; nothing runs until Start.
func New(sink sources.Sink, opts Options) *Source {
	opts = opts.withDefaults()
	s := &Source{
		opts:      opts,
		log:       opts.Logger.With("source", "redis"),
		salt:      make([]byte, 32),
		endpoints: make(map[string]*endpoint),
		watches:   make(map[store.Key]watch),
	}
	_, _ = rand.Read(s.salt)
	switch {
	case opts.scheduler != nil:
		s.sched = opts.scheduler
	case opts.Scheduler != nil:
		s.sched = opts.Scheduler
	default:
		s.own = sources.NewScheduler(sources.SchedulerOptions{
			Source:         "redis",
			Sink:           sink,
			Clock:          opts.Clock,
			RepairInterval: opts.RepairInterval,
			Reads:          opts.Reads,
		})
		s.sched = s.own
	}
	return s
}

// Parse validates t.
func (s *Source) Parse(t sources.Trigger) (sources.Spec, error) {
	c, err := ParseConfig(t)
	if err != nil {
		return sources.Spec{}, err
	}
	return c.Spec(t.Key.Trigger), nil
}

// Watch starts reading t's list or stream: at once, then on every keyspace
// notification of its key and as the Scheduler's rules say. Triggers on the
// same endpoint share its connections; triggers reading the same thing share
// its reads. An invalid trigger is no longer watched (if it was).
func (s *Source) Watch(t sources.Trigger) error {
	c, err := ParseConfig(t)
	if err != nil {
		s.Unwatch(t.Key)
		return err
	}
	id := s.endpointID(c)
	name, kind, key := resourceOf(c)

	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return ErrStopped
	}
	old, had := s.watches[t.Key]
	if had {
		if old.ep.id == id && old.res.id.Name == name {
			s.sched.Attach(old.res.id, old.res.read, attachment(t, c))
			s.mu.Unlock()
			old.ep.wake()
			return nil
		}
		s.forgetLocked(t.Key, old) // the endpoint goes below, unless reused
	}
	ep := s.endpoints[id]
	if ep == nil {
		if ep, err = newEndpoint(s, id, c); err != nil {
			stop := s.releaseLocked(old.ep)
			s.mu.Unlock()
			stop.stop()
			return err
		}
		s.endpoints[id] = ep
		if s.running != nil {
			ep.start(s.running)
		}
	}
	ep.refs++
	res := ep.addResource(name, kind, key, c.ConsumerGroup, t.Type, s.opts.DisablePush[t.Type])
	s.watches[t.Key] = watch{ep: ep, res: res}
	s.sched.Attach(res.id, res.read, attachment(t, c))
	res.attached.Store(true)
	stop := s.releaseLocked(old.ep)
	s.mu.Unlock()
	ep.wake()
	stop.stop()
	return nil
}

// Unwatch stops reading for k. The last trigger of a resource unsubscribes
// its channel; the last of an endpoint closes its connections.
func (s *Source) Unwatch(k store.Key) {
	s.mu.Lock()
	var stop *endpoint
	if w, ok := s.watches[k]; ok {
		s.forgetLocked(k, w)
		stop = s.releaseLocked(w.ep)
	}
	s.mu.Unlock()
	stop.stop()
}

// forgetLocked detaches trigger k from its resource and endpoint.
func (s *Source) forgetLocked(k store.Key, w watch) {
	delete(s.watches, k)
	s.sched.Detach(k)
	w.ep.removeResource(w.res)
	w.ep.refs--
	w.ep.wake()
}

// releaseLocked removes ep (nil is fine) when no trigger uses it any more
// and returns it, to be stopped once s.mu is released.
func (s *Source) releaseLocked(ep *endpoint) *endpoint {
	if ep == nil || ep.refs > 0 {
		return nil
	}
	if s.endpoints[ep.id] == ep {
		delete(s.endpoints, ep.id)
	}
	return ep
}

// Start runs the endpoints' connections (and the source's own scheduler)
// until ctx is done. It returns nil on a clean stop and never touches the
// scheduler or the sink after returning.
func (s *Source) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("redis: Start called twice")
	}
	s.started, s.running = true, ctx
	for _, ep := range s.endpoints {
		ep.start(ctx)
	}
	s.mu.Unlock()

	schedDone := make(chan error, 1)
	if s.own != nil {
		go func() { schedDone <- s.own.Start(ctx) }()
	}
	<-ctx.Done()

	s.mu.Lock()
	s.stopped = true
	eps := make([]*endpoint, 0, len(s.endpoints))
	for _, ep := range s.endpoints {
		eps = append(eps, ep)
	}
	keys := make([]store.Key, 0, len(s.watches))
	for k := range s.watches {
		keys = append(keys, k)
	}
	s.mu.Unlock()

	for _, ep := range eps {
		ep.halt() // no more hints or push reports
	}
	if s.own != nil {
		<-schedDone // and no read in flight
	} else {
		for _, k := range keys {
			s.sched.Detach(k)
		}
	}
	for _, ep := range eps {
		ep.stop()
	}
	return nil
}

// attachment is t's attachment to its resource.
func attachment(t sources.Trigger, c Config) sources.Attachment {
	return sources.Attachment{Key: t.Key, Activation: c.Spec(t.Key.Trigger).Activation, PollingInterval: t.PollingInterval}
}

// endpointID names c's connection without secrets: the deployment kind,
// its addresses, the database, the users, keyed hashes of the passwords
// and of the TLS material, and the TLS switches.
func (s *Source) endpointID(c Config) string {
	addrs := slices.Clone(c.Addresses)
	if c.Kind != Standalone {
		slices.Sort(addrs)
	}
	var b strings.Builder
	b.WriteString("redis-" + c.Kind.String() + "://" + strings.Join(addrs, ","))
	if c.Kind != Cluster {
		b.WriteString("/" + strconv.Itoa(c.DatabaseIndex))
	}
	fmt.Fprintf(&b, " user=%q auth=%s", c.Username, s.hash(c.password))
	if c.Kind == Sentinel {
		fmt.Fprintf(&b, " master=%q sentinelUser=%q sentinelAuth=%s", c.SentinelMaster, c.SentinelUsername, s.hash(c.sentinelPassword))
	}
	switch {
	case !c.EnableTLS:
		b.WriteString(" tls=off")
	default:
		fmt.Fprintf(&b, " tls=on unsafe=%t pki=%s", c.UnsafeSSL, s.hash(c.tls.ca+"\x00"+c.tls.cert+"\x00"+c.tls.key+"\x00"+c.tls.keyPassword))
	}
	return b.String()
}

// hash is a short keyed hash of a secret ("none" for none): equal secrets
// share an endpoint, and the id reveals nothing of them.
func (s *Source) hash(secret string) string {
	if secret == "" {
		return "none"
	}
	m := hmac.New(sha256.New, s.salt)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))[:12]
}

// resourceOf names what c reads. Names quote the key and group so that no
// two distinct reads share a name.
func resourceOf(c Config) (name string, kind resKind, key string) {
	if !c.Streams {
		return "list " + strconv.Quote(c.ListName), readList, c.ListName
	}
	switch c.Mode {
	case PendingEntries:
		return "xpending " + strconv.Quote(c.Stream) + " " + strconv.Quote(c.ConsumerGroup), readXPending, c.Stream
	case Lag:
		return "xlag " + strconv.Quote(c.Stream) + " " + strconv.Quote(c.ConsumerGroup), readXLag, c.Stream
	default:
		return "xlen " + strconv.Quote(c.Stream), readXLen, c.Stream
	}
}
