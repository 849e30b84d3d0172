package sources

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"

	"github.com/pushscale/pushscale/store"
)

// ErrStopped is returned by Watch once the source has stopped.
var ErrStopped = errors.New("source stopped")

// An Endpoint is one connection configuration of a broker source (broker
// address, credential, database or vhost), shared by every trigger that
// uses it and owned by an Endpoints. It holds the connections, the push
// path (subscriptions, long-polls) and the reads of its resources.
type Endpoint[R Resource] interface {
	// Run runs the push path until ctx is done, reconnecting inside with
	// backoff. It reports to the source's Schedule (Hint, Reconnected,
	// SetPush) and never after returning.
	Run(ctx context.Context)
	// Close releases the connections. It is called once, after Run has
	// returned or when Run never ran; reads in flight then fail.
	Close()
	// Add tells the endpoint that resource r has its first trigger, once
	// the Schedule knows r; Remove that r lost its last, once the Schedule
	// has forgotten it. Both are called with the Endpoints' lock held: they
	// must not block (wake the push path instead).
	Add(r R)
	Remove(r R)
}

// A Resource is one authoritative read on an endpoint (a key, a topic and
// group, a queue, a consumer), shared by the triggers whose reads are
// identical.
type Resource interface {
	// Read performs the read; see ReadFunc.
	Read(ctx context.Context) (float64, error)
}

// Binding says what a trigger reads and how to create the endpoint and the
// resource when no other trigger uses them yet.
type Binding[E Endpoint[R], R Resource] struct {
	// Endpoint identifies the endpoint; it must not hold a secret in clear
	// (see Endpoints.Hash).
	Endpoint string
	// NewEndpoint creates the endpoint, without I/O.
	NewEndpoint func() (E, error)
	// Resource names the read on the endpoint.
	Resource string
	// NewResource creates the resource on ep, without I/O.
	NewResource func(ep E, id ResourceID) R
}

// Endpoints is the Watch/Unwatch/Start bookkeeping of a broker source: its
// endpoints, reference counted by their triggers, each started by the
// first trigger's Watch (or by Start) and stopped after the last Unwatch;
// their resources, reference counted the same way and attached to the
// source's Schedule. A source embeds one and adds its config and reads.
// It is safe for concurrent use.
type Endpoints[E Endpoint[R], R Resource] struct {
	sched Schedule
	salt  []byte // keys the credential hashes in endpoint ids

	mu        sync.Mutex
	running   context.Context // Start's, while it runs
	started   bool
	stopped   bool
	endpoints map[string]*pooled[E, R]
	watches   map[store.Key]binding[E, R]
}

// pooled is one endpoint with its references and resources.
type pooled[E Endpoint[R], R Resource] struct {
	id        string
	ep        E
	refs      int
	resources map[string]*pooledResource[R]
	cancel    context.CancelFunc // of Run, once started
	done      chan struct{}      // closed when Run returns
}

type pooledResource[R Resource] struct {
	id   ResourceID
	r    R
	refs int
}

// binding is what one watched trigger uses.
type binding[E Endpoint[R], R Resource] struct {
	ep  *pooled[E, R]
	res *pooledResource[R]
}

// NewEndpoints returns the bookkeeping of a source reading through sched.
func NewEndpoints[E Endpoint[R], R Resource](sched Schedule) *Endpoints[E, R] {
	p := &Endpoints[E, R]{
		sched:     sched,
		salt:      make([]byte, 32),
		endpoints: make(map[string]*pooled[E, R]),
		watches:   make(map[store.Key]binding[E, R]),
	}
	_, _ = rand.Read(p.salt)
	return p
}

// Hash is a short keyed hash of a secret ("none" for none), for endpoint
// ids: equal secrets share an endpoint, and the id reveals nothing of them.
// The key is random per Endpoints.
func (p *Endpoints[E, R]) Hash(secret string) string {
	if secret == "" {
		return "none"
	}
	m := hmac.New(sha256.New, p.salt)
	m.Write([]byte(secret))
	return hex.EncodeToString(m.Sum(nil))[:12]
}

// Watch binds trigger a.Key to resource b.Resource of endpoint b.Endpoint,
// creating either as needed, and attaches it to the Schedule (which reads
// it). Watching a key again with the same binding only updates its
// attachment; with another, moves it. An error from NewEndpoint leaves the
// key unwatched.
func (p *Endpoints[E, R]) Watch(a Attachment, b Binding[E, R]) error {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return ErrStopped
	}
	old, had := p.watches[a.Key]
	if had && old.ep.id == b.Endpoint && old.res.id.Name == b.Resource {
		p.sched.Attach(old.res.id, old.res.r.Read, a)
		p.mu.Unlock()
		return nil
	}
	if had {
		p.forgetLocked(a.Key, old) // its endpoint goes below, unless reused
	}
	ep := p.endpoints[b.Endpoint]
	if ep == nil {
		e, err := b.NewEndpoint()
		if err != nil {
			stop := p.releaseLocked(old.ep)
			p.mu.Unlock()
			stop.stop()
			return err
		}
		ep = &pooled[E, R]{id: b.Endpoint, ep: e, resources: make(map[string]*pooledResource[R])}
		p.endpoints[b.Endpoint] = ep
		if p.running != nil {
			ep.start(p.running)
		}
	}
	ep.refs++
	res := ep.resources[b.Resource]
	fresh := res == nil
	if fresh {
		id := ResourceID{Endpoint: ep.id, Name: b.Resource}
		res = &pooledResource[R]{id: id, r: b.NewResource(ep.ep, id)}
		ep.resources[b.Resource] = res
	}
	res.refs++
	p.watches[a.Key] = binding[E, R]{ep: ep, res: res}
	p.sched.Attach(res.id, res.r.Read, a)
	if fresh {
		ep.ep.Add(res.r)
	}
	stop := p.releaseLocked(old.ep)
	p.mu.Unlock()
	stop.stop()
	return nil
}

// Unwatch stops reading for k. The last trigger of a resource removes it
// from its endpoint; the last of an endpoint stops it. Unknown keys are
// ignored.
func (p *Endpoints[E, R]) Unwatch(k store.Key) {
	p.mu.Lock()
	var stop *pooled[E, R]
	if w, ok := p.watches[k]; ok {
		p.forgetLocked(k, w)
		stop = p.releaseLocked(w.ep)
	}
	p.mu.Unlock()
	stop.stop()
}

// forgetLocked detaches trigger k from its resource and endpoint.
func (p *Endpoints[E, R]) forgetLocked(k store.Key, w binding[E, R]) {
	delete(p.watches, k)
	p.sched.Detach(k)
	if w.res.refs--; w.res.refs == 0 {
		delete(w.ep.resources, w.res.id.Name)
		w.ep.ep.Remove(w.res.r)
	}
	w.ep.refs--
}

// releaseLocked removes ep (nil is fine) when no trigger uses it any more
// and returns it, to be stopped once p.mu is released.
func (p *Endpoints[E, R]) releaseLocked(ep *pooled[E, R]) *pooled[E, R] {
	if ep == nil || ep.refs > 0 {
		return nil
	}
	if p.endpoints[ep.id] == ep {
		delete(p.endpoints, ep.id)
	}
	return ep
}

// Start runs the endpoints until ctx is done, then stops them: first every
// push path (nothing reaches the Schedule from them afterwards), then every
// trigger is detached from the Schedule (nothing is recorded for them),
// then the connections are closed. It returns nil; a second call is an
// error.
func (p *Endpoints[E, R]) Start(ctx context.Context) error {
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("sources: Start called twice")
	}
	p.started, p.running = true, ctx
	for _, ep := range p.endpoints {
		ep.start(ctx)
	}
	p.mu.Unlock()

	<-ctx.Done()

	p.mu.Lock()
	p.stopped = true
	eps := make([]*pooled[E, R], 0, len(p.endpoints))
	for _, ep := range p.endpoints {
		eps = append(eps, ep)
	}
	keys := make([]store.Key, 0, len(p.watches))
	for k := range p.watches {
		keys = append(keys, k)
	}
	p.mu.Unlock()

	for _, ep := range eps {
		ep.halt()
	}
	for _, k := range keys {
		p.sched.Detach(k)
	}
	for _, ep := range eps {
		ep.ep.Close()
	}
	return nil
}

// start runs ep's push path with ctx; called with the Endpoints' lock held.
func (ep *pooled[E, R]) start(ctx context.Context) {
	if ep.cancel != nil {
		return
	}
	ctx, ep.cancel = context.WithCancel(ctx)
	ep.done = make(chan struct{})
	go func() {
		defer close(ep.done)
		ep.ep.Run(ctx)
	}()
}

// halt stops ep's push path and waits for it. The endpoint has left the
// Endpoints' maps (or Start has ended), so nothing starts it again.
func (ep *pooled[E, R]) halt() {
	if ep.cancel != nil {
		ep.cancel()
		<-ep.done
	}
}

// stop halts ep and closes it. A nil ep is fine.
func (ep *pooled[E, R]) stop() {
	if ep == nil {
		return
	}
	ep.halt()
	ep.ep.Close()
}

// Broker is what a broker source embeds: its Endpoints, attached to its
// Scheduler, its Deps with defaults applied (the real clock, a discarding
// logger), and Parse and Watch done with the source's config parser and
// binding. With it, a broker source's package holds its config, its reads
// and its push path only.
type Broker[C Config, E Endpoint[R], R Resource] struct {
	*Endpoints[E, R]
	Deps  Deps
	parse func(Trigger) (C, error)
	bind  func(Trigger, C) Binding[E, R]
}

// NewBroker returns the shared part of broker source name built with d:
// parse validates a trigger, bind says what a valid one reads. It panics
// without d.Scheduler: a broker source is read.
func NewBroker[C Config, E Endpoint[R], R Resource](name string, d Deps, parse func(Trigger) (C, error), bind func(Trigger, C) Binding[E, R]) *Broker[C, E, R] {
	if d.Scheduler == nil {
		panic(name + ": Deps.Scheduler is nil")
	}
	DefaultClockLogger(&d.Clock, &d.Logger)
	return &Broker[C, E, R]{Endpoints: NewEndpoints[E, R](d.Scheduler), Deps: d, parse: parse, bind: bind}
}

// Config is a source's parsed trigger config.
type Config interface {
	// Spec is what the scaler needs to know of the trigger at index.
	Spec(index int) Spec
}

// Parse validates t with the source's parser.
func (b *Broker[C, E, R]) Parse(t Trigger) (Spec, error) {
	c, err := b.parse(t)
	if err != nil {
		return Spec{}, err
	}
	return c.Spec(t.Key.Trigger), nil
}

// Watch starts reading t: its read is attached to the Scheduler (with t's
// activation threshold and pollingInterval) on the endpoint and resource
// the source's binding names, shared with every trigger that names the
// same. An invalid trigger is no longer watched (if it was).
func (b *Broker[C, E, R]) Watch(t Trigger) error {
	c, err := b.parse(t)
	if err != nil {
		b.Unwatch(t.Key)
		return err
	}
	a := Attachment{Key: t.Key, Activation: c.Spec(t.Key.Trigger).Activation, PollingInterval: t.PollingInterval}
	return b.Endpoints.Watch(a, b.bind(t, c))
}

// Wake is a coalescing wake-up for an endpoint's loop: any number of Wake
// calls before the loop receives from the channel deliver one. Wake never
// blocks.
type Wake chan struct{}

// NewWake returns a Wake with room for one pending wake-up.
func NewWake() Wake { return make(Wake, 1) }

// Wake asks the loop to run again.
func (w Wake) Wake() {
	select {
	case w <- struct{}{}:
	default:
	}
}
