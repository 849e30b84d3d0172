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
// credentials, TLS): a sources.Endpoint, shared by every trigger that uses
// it and reference counted by the Source's sources.Endpoints. It owns, per
// server node it talks to, one client whose small pool (Options.PoolSize)
// serves reads and CONFIG, and one subscription connection while some
// resource on that node wants pushes.
//
// Its loop (Run) is the only caller of Scheduler.SetPush and Reconnected for
// the endpoint, so push reports stay in order; receivers call Hint.
type endpoint struct {
	s    *Source
	id   string
	cfg  Config // the connection fields are the same for every trigger
	tls  *tls.Config
	db   int
	log  *slog.Logger
	poke sources.Wake // wakes the loop

	topoMu sync.Mutex // serialises topology resolution, which does I/O

	mu        sync.Mutex
	resources map[string]*resource   // by name
	channels  map[string][]*resource // pushing resources by keyspace channel; slices are replaced, never changed
	nodes     map[string]*redis.Client
	trackers  map[string]*tracker // the client tracking of a node's read client, if on
	lost      map[string]bool     // nodes that may have forgotten their tracked keys
	sentinel  *sentinelConn       // the sentinel that answered last
	topo      topology
	closed    bool
}

// A resource is one read on the endpoint (a sources.Resource), shared by
// the triggers whose reads are identical.
type resource struct {
	e       *endpoint
	id      sources.ResourceID
	kind    resKind
	key     string
	group   string
	typ     string // trigger type
	pushOff bool
	channel string

	keyType atomic.Pointer[string] // the key's type at the last list read
	// viaTracking: pushed through client tracking, whose invalidations
	// are hints for it (set by the endpoint's loop).
	viaTracking atomic.Bool

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
		log:       s.Deps.Logger.With("endpoint", id),
		poke:      sources.NewWake(),
		resources: make(map[string]*resource),
		channels:  make(map[string][]*resource),
		nodes:     make(map[string]*redis.Client),
		trackers:  make(map[string]*tracker),
		lost:      make(map[string]bool),
	}
	if c.Kind == Cluster {
		e.db = 0
	}
	if c.Kind == Standalone {
		e.topo = topology{master: c.Addresses[0], known: true}
	}
	return e, nil
}

// newResource returns the resource id of the endpoint; Add makes it part of
// the push path.
func (e *endpoint) newResource(id sources.ResourceID, kind resKind, key, group, typ string, pushOff bool) *resource {
	return &resource{
		e:       e,
		id:      id,
		kind:    kind,
		key:     key,
		group:   group,
		typ:     typ,
		pushOff: pushOff,
		channel: keyspaceChannel(e.db, key),
	}
}

// Read is the resource's authoritative read.
func (r *resource) Read(ctx context.Context) (float64, error) { return r.e.read(ctx, r) }

// Add subscribes r's keyspace channel (unless push is off for it): the loop
// is woken to do it.
func (e *endpoint) Add(r *resource) {
	e.mu.Lock()
	e.resources[r.id.Name] = r
	if !r.pushOff {
		e.channels[r.channel] = append(slices.Clip(e.channels[r.channel]), r)
	}
	e.mu.Unlock()
	e.poke.Wake()
}

// Remove forgets r; the loop unsubscribes its channel when no other
// resource uses it.
func (e *endpoint) Remove(r *resource) {
	e.mu.Lock()
	delete(e.resources, r.id.Name)
	if rs := slices.DeleteFunc(slices.Clone(e.channels[r.channel]), func(x *resource) bool { return x == r }); len(rs) > 0 {
		e.channels[r.channel] = rs
	} else {
		delete(e.channels, r.channel)
	}
	e.mu.Unlock()
	e.poke.Wake()
}

// Close closes the endpoint's clients, once Run has returned (or never
// ran); reads that follow fail with errEndpointClosed.
func (e *endpoint) Close() {
	e.mu.Lock()
	e.closed = true
	nodes, sentinel := e.nodes, e.sentinel
	e.nodes, e.sentinel = map[string]*redis.Client{}, nil
	clear(e.trackers)
	e.mu.Unlock()
	for _, c := range nodes {
		_ = c.Close()
	}
	if sentinel != nil {
		_ = sentinel.client.Close()
	}
}

// options are the client options for a data node at addr; with t, each
// connection turns client tracking on as it connects. Idle connections are
// kept: a tracking connection that closed would forget its keys.
func (e *endpoint) options(addr string, t *tracker) *redis.Options {
	o := e.s.opts
	opts := &redis.Options{
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
		ConnMaxIdleTime:          -1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
	if t != nil {
		opts.OnConnect = t.onConnect
	}
	return opts
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
		c = redis.NewClient(e.options(addr, e.trackers[addr]))
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
			delete(e.trackers, addr)
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
		e.s.Deps.Scheduler.Hint(r.id, additive(r.kind, event))
	}
}

// noteKeyType records the type a list read found; a change may change the
// notification classes the resource needs.
func (e *endpoint) noteKeyType(r *resource, t string) {
	if old := r.keyType.Swap(&t); old == nil || required(r.kind, *old) != required(r.kind, t) {
		e.poke.Wake()
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
