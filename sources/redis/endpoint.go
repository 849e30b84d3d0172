package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// An endpoint is one connection configuration (kind, addresses, database,
// credentials, TLS), shared by every trigger that uses it, reference
// counted by the Source. It owns, per server node it talks to, one client
// whose small pool (Options.PoolSize) serves reads and CONFIG, and one
// subscription connection while some resource on that node wants pushes.
//
// Its loop (run) is the only caller of Scheduler.SetPush and Reconnected for
// the endpoint, so push reports stay in order; receivers call Hint.
type endpoint struct {
	s    *Source
	id   string
	cfg  Config // the connection fields are the same for every trigger
	tls  *tls.Config
	db   int
	log  *slog.Logger
	poke chan struct{} // capacity 1: wakes the loop

	refs int // triggers, guarded by Source.mu

	topoMu sync.Mutex // serialises topology resolution, which does I/O

	mu        sync.Mutex
	resources map[string]*resource   // by name
	channels  map[string][]*resource // pushing resources by keyspace channel; slices are replaced, never changed
	nodes     map[string]*redis.Client
	sentinel  *sentinelConn // the sentinel that answered last
	topo      topology
	closed    bool

	cancel context.CancelFunc
	done   chan struct{}
}

// A resource is one read on the endpoint, shared by the triggers whose
// reads are identical.
type resource struct {
	id      sources.ResourceID
	kind    resKind
	key     string
	group   string
	typ     string // trigger type
	pushOff bool
	channel string
	refs    int // guarded by endpoint.mu
	read    sources.ReadFunc

	keyType  atomic.Pointer[string] // the key's type at the last list read
	attached atomic.Bool            // the Scheduler knows it: push health can be reported

	// owned by the endpoint's loop
	reported    store.Push
	hasReported bool
}

func newEndpoint(s *Source, id string, c Config) (*endpoint, error) {
	tlsCfg, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	e := &endpoint{
		s:         s,
		id:        id,
		cfg:       c,
		tls:       tlsCfg,
		db:        c.DatabaseIndex,
		log:       s.log.With("endpoint", id),
		poke:      make(chan struct{}, 1),
		resources: make(map[string]*resource),
		channels:  make(map[string][]*resource),
		nodes:     make(map[string]*redis.Client),
	}
	if c.Kind == Cluster {
		e.db = 0
	}
	if c.Kind == Standalone {
		e.topo = topology{master: c.Addresses[0], known: true}
	}
	return e, nil
}

// addResource returns the resource name, creating it, with one more
// reference.
func (e *endpoint) addResource(name string, kind resKind, key, group, typ string, pushOff bool) *resource {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.resources[name]
	if r == nil {
		r = &resource{
			id:      sources.ResourceID{Endpoint: e.id, Name: name},
			kind:    kind,
			key:     key,
			group:   group,
			typ:     typ,
			pushOff: pushOff,
			channel: keyspaceChannel(e.db, key),
		}
		r.read = func(ctx context.Context) (float64, error) { return e.read(ctx, r) }
		e.resources[name] = r
		if !pushOff {
			e.channels[r.channel] = append(slices.Clip(e.channels[r.channel]), r)
		}
	}
	r.refs++
	return r
}

// removeResource drops one reference to r, and r when it was the last.
func (e *endpoint) removeResource(r *resource) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.refs--; r.refs > 0 {
		return
	}
	delete(e.resources, r.id.Name)
	if rs := slices.DeleteFunc(slices.Clone(e.channels[r.channel]), func(x *resource) bool { return x == r }); len(rs) > 0 {
		e.channels[r.channel] = rs
	} else {
		delete(e.channels, r.channel)
	}
}

// wake asks the loop to reconcile. It never blocks.
func (e *endpoint) wake() {
	select {
	case e.poke <- struct{}{}:
	default:
	}
}

// start runs the loop until halt or ctx is done.
func (e *endpoint) start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cancel != nil || e.closed {
		return
	}
	ctx, e.cancel = context.WithCancel(ctx)
	e.done = make(chan struct{})
	go func() {
		defer close(e.done)
		e.run(ctx)
	}()
}

// halt stops the loop and the subscriptions and waits for them: nothing
// reaches the scheduler from this endpoint afterwards. Reads still work.
func (e *endpoint) halt() {
	if e == nil {
		return
	}
	e.mu.Lock()
	cancel, done := e.cancel, e.done
	e.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// stop halts the endpoint and closes its clients. A nil endpoint is fine.
func (e *endpoint) stop() {
	if e == nil {
		return
	}
	e.halt()
	e.mu.Lock()
	e.closed = true
	nodes, sentinel := e.nodes, e.sentinel
	e.nodes, e.sentinel = map[string]*redis.Client{}, nil
	e.mu.Unlock()
	for _, c := range nodes {
		_ = c.Close()
	}
	if sentinel != nil {
		_ = sentinel.client.Close()
	}
}

// options are the client options for a data node at addr.
func (e *endpoint) options(addr string) *redis.Options {
	o := e.s.opts
	return &redis.Options{
		Addr:                     addr,
		Username:                 e.cfg.Username,
		Password:                 e.cfg.password,
		DB:                       e.db,
		TLSConfig:                e.tls,
		Protocol:                 2,
		DisableIdentity:          true,
		ContextTimeoutEnabled:    true,
		DialTimeout:              o.DialTimeout,
		DialerRetries:            1,
		PoolSize:                 o.PoolSize,
		MaxIdleConns:             o.PoolSize,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// client returns the client of the node at addr, creating it (no I/O).
// It returns nil once the endpoint is stopped.
func (e *endpoint) client(addr string) *redis.Client {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	c := e.nodes[addr]
	if c == nil {
		c = redis.NewClient(e.options(addr))
		e.nodes[addr] = c
	}
	return c
}

// dropClients closes the clients of nodes that are not in keep.
func (e *endpoint) dropClients(keep map[string]bool) {
	e.mu.Lock()
	var drop []*redis.Client
	for addr, c := range e.nodes {
		if !keep[addr] {
			drop = append(drop, c)
			delete(e.nodes, addr)
		}
	}
	e.mu.Unlock()
	for _, c := range drop {
		_ = c.Close()
	}
}

// onMessage turns a keyspace notification into hints for the resources of
// its channel. It never blocks.
func (e *endpoint) onMessage(channel, event string) {
	e.mu.Lock()
	rs := e.channels[channel]
	e.mu.Unlock()
	for _, r := range rs {
		e.s.sched.Hint(r.id, additive(r.kind, event))
	}
}

// noteKeyType records the type a list read found; a change may change the
// notification classes the resource needs.
func (e *endpoint) noteKeyType(r *resource, t string) {
	if old := r.keyType.Swap(&t); old == nil || required(r.kind, *old) != required(r.kind, t) {
		e.wake()
	}
}

func (r *resource) observedType() string {
	if t := r.keyType.Load(); t != nil {
		return *t
	}
	return "none"
}

// errEndpointClosed is a read's error when the endpoint has been stopped.
var errEndpointClosed = errors.New("redis: endpoint closed")
