package rabbitmq

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// DefaultTimeout is KEDA's global HTTP timeout, used for AMQP dials too.
const DefaultTimeout = 3 * time.Second

// maxAPIBody bounds one management API answer.
const maxAPIBody = 32 << 20

// Options are the gateway's settings of the source; zero values take the
// defaults.
type Options struct {
	// Timeout (DefaultTimeout) bounds an AMQP dial, a bindings request and,
	// unless the trigger sets timeout, a management API read.
	Timeout time.Duration
	// ReconnectWait (500 ms) is the first pause of sources.Backoff after a
	// failed dial.
	ReconnectWait time.Duration
	// BindingsRecheck (1 min) bounds how often a queue's bindings are read
	// again from the management API on reads while idle (a queue that
	// cannot be pushed is read every pollingInterval).
	BindingsRecheck time.Duration
	// IdlePollInterval (--rabbitmq-idle-poll-interval) reads a trigger at
	// most this far apart, whatever its pollingInterval: for the triggers
	// whose push path is unavailable (a queue fed only through the default
	// exchange, protocol http) that is how long a publish may wait. Zero:
	// each trigger's pollingInterval.
	IdlePollInterval time.Duration
}

func (o Options) withDefaults() Options {
	sources.Default(&o.Timeout, DefaultTimeout)
	sources.Default(&o.ReconnectWait, 500*time.Millisecond)
	sources.Default(&o.BindingsRecheck, time.Minute)
	return o
}

// endpoint is an AMQP connection (read by passive declare, pushed through
// shadow queues) or a management API (read as KEDA's http protocol).
type endpoint interface {
	sources.Endpoint[*resource]
	read(ctx context.Context, r *resource) (float64, error)
	// readDone tells the endpoint that a read of r succeeded: r may have
	// gone idle or active. It must not block.
	readDone(r *resource)
}

// Source serves rabbitmq triggers. It is safe for concurrent use.
type Source struct {
	*sources.Broker[Config, endpoint, *resource]
	opts Options
	acts activations
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family(opts Options) sources.Family {
	return sources.Family{Name: Type, Types: []string{Type}, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start.
func New(d sources.Deps, opts Options) *Source {
	s := &Source{opts: opts.withDefaults(), acts: activations{byKey: map[store.Key]actEntry{}}}
	s.Broker = sources.NewBroker(Type, d, ParseConfig, s.binding)
	return s
}

// Watch starts reading t (sources.Broker.Watch), remembering its
// activation threshold for its resource (a shadow queue is consumed only
// while its resource is idle) and bounding its polling interval by
// Options.IdlePollInterval.
func (s *Source) Watch(t sources.Trigger) error {
	c, err := ParseConfig(t)
	if err != nil {
		s.Unwatch(t.Key)
		return err
	}
	b := s.binding(t, c)
	s.acts.set(t.Key, sources.ResourceID{Endpoint: b.Endpoint, Name: b.Resource}, c.ActivationValue)
	if iv := s.opts.IdlePollInterval; iv > 0 && (t.PollingInterval <= 0 || iv < t.PollingInterval) {
		t.PollingInterval = iv
	}
	return s.Broker.Watch(t)
}

// Unwatch stops reading k.
func (s *Source) Unwatch(k store.Key) {
	s.Broker.Unwatch(k)
	s.acts.remove(k)
}

// binding says what t reads: with protocol amqp its queue by passive
// declare on a connection shared per host, vhost and credential, pushed
// through a shadow queue; with http the management API as KEDA reads it.
func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[endpoint, *resource] {
	b := sources.Binding[endpoint, *resource]{
		NewResource: func(ep endpoint, id sources.ResourceID) *resource {
			return &resource{ep: ep, id: id, c: c, src: s}
		},
	}
	user, pass := c.httpCredentials()
	secret := user + "\x00" + pass + "\x00" + c.tls.CA + "\x00" + c.tls.Cert + "\x00" + c.tls.Key + "\x00" + c.tls.KeyPassword
	flags := " tls=" + strconv.FormatBool(c.TLS) + " unsafeSsl=" + strconv.FormatBool(c.UnsafeSSL) + " auth=" + s.Hash(secret)
	if c.Protocol == ProtocolAMQP {
		u := c.amqpURI()
		b.Endpoint = u.Scheme + "://" + hostPort(u.Host, strconv.Itoa(u.Port)) + " vhost=" + strconv.Quote(u.Vhost) + flags
		b.NewEndpoint = func() (endpoint, error) { return newAMQP(s, b.Endpoint, c) }
		bindings := "from the management API"
		if c.ShadowBindings != nil {
			bindings = fmt.Sprint(c.ShadowBindings)
		} else if c.ManagementHost != "" {
			bindings += " " + c.ManagementHost
		}
		b.Resource = "queue " + strconv.Quote(c.QueueName) + " bindings " + bindings
		return b
	}
	base, vhost := c.managementBase()
	b.Endpoint = base.String() + flags
	b.NewEndpoint = func() (endpoint, error) { return newManagement(s, b.Endpoint, c) }
	b.Resource = fmt.Sprintf("vhost %s queue %q regex=%t pageSize=%d operation=%s mode=%s excludeUnacknowledged=%t activation=%g timeout=%s",
		vhost, c.QueueName, c.UseRegex, c.PageSize, c.Operation, c.Mode, c.ExcludeUnacknowledged, c.ActivationValue, c.Timeout)
	return b
}

// A resource is one queue (or, with useRegex, one set of queues) read one
// way, shared by the triggers that read the same.
type resource struct {
	ep  endpoint
	id  sources.ResourceID
	c   Config // of the trigger that created it; what is read is the same for all
	src *Source

	mu    sync.Mutex
	last  float64 // the last value read
	known bool    // a read succeeded
}

// Read is the resource's authoritative read.
func (r *resource) Read(ctx context.Context) (float64, error) {
	v, err := r.ep.read(ctx, r)
	if err != nil {
		return 0, err
	}
	r.mu.Lock()
	r.last, r.known = v, true
	r.mu.Unlock()
	r.ep.readDone(r)
	return v, nil
}

// idle reports whether no trigger of r is active by the last read (or
// nothing was read yet): what the Scheduler calls idle.
func (r *resource) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.idleLocked()
}

func (r *resource) idleLocked() bool {
	return !r.known || r.last <= r.src.acts.least(r.id)
}

// activations are the activation thresholds of the watched triggers by
// resource: a resource is idle while its value is at or below the least.
type activations struct {
	mu    sync.Mutex
	byKey map[store.Key]actEntry
}

type actEntry struct {
	id  sources.ResourceID
	act float64
}

func (a *activations) set(k store.Key, id sources.ResourceID, act float64) {
	a.mu.Lock()
	a.byKey[k] = actEntry{id: id, act: act}
	a.mu.Unlock()
}

func (a *activations) remove(k store.Key) {
	a.mu.Lock()
	delete(a.byKey, k)
	a.mu.Unlock()
}

// least returns the least activation threshold of the triggers on id (0
// when none).
func (a *activations) least(id sources.ResourceID) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	least, any := 0.0, false
	for _, e := range a.byKey {
		if e.id == id && (!any || e.act < least) {
			least, any = e.act, true
		}
	}
	return least
}
