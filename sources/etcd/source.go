package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
	"github.com/pushscale/pushscale/store"
)

// The PushHealthy reasons this source reports.
const (
	ReasonSubscribed       = "Subscribed"
	ReasonSubscriptionLost = "SubscriptionLost"
	ReasonDisabledByConfig = "DisabledByConfig"
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// DialTimeout bounds connecting; default 5 s.
	DialTimeout time.Duration
	// RewatchWait is the first wait before making a failed watch again,
	// doubled up to 30 s, with jitter; default 500 ms.
	RewatchWait time.Duration
}

func (o Options) withDefaults() Options {
	sources.Default(&o.DialTimeout, 5*time.Second)
	sources.Default(&o.RewatchWait, 500*time.Millisecond)
	return o
}

// Source serves etcd triggers. It is safe for concurrent use.
type Source struct {
	*sources.Broker[Config, *endpoint, *resource]
	opts Options
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family(opts Options) sources.Family {
	return sources.Family{Name: Type, Types: []string{Type}, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start.
func New(d sources.Deps, opts Options) *Source {
	s := &Source{opts: opts.withDefaults()}
	s.Broker = sources.NewBroker(Type, d, ParseConfig, s.binding)
	return s
}

func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[*endpoint, *resource] {
	b := sources.Binding[*endpoint, *resource]{Endpoint: c.id(s.Hash), Resource: "key " + strconv.Quote(c.WatchKey)}
	b.NewEndpoint = func() (*endpoint, error) { return newEndpoint(s, b.Endpoint, c) }
	b.NewResource = func(ep *endpoint, id sources.ResourceID) *resource {
		return &resource{ep: ep, id: id, key: c.WatchKey, progress: time.Duration(c.WatchProgressNotifyInterval) * time.Second}
	}
	return b
}

// A resource is one key, shared by the triggers that watch it.
type resource struct {
	ep       *endpoint
	id       sources.ResourceID
	key      string
	progress time.Duration // watchProgressNotifyInterval of its first trigger
}

// Read gets the key and parses its value as KEDA does.
func (r *resource) Read(ctx context.Context) (float64, error) {
	cli, err := r.ep.client()
	if err != nil {
		return 0, err
	}
	resp, err := cli.Get(ctx, r.key)
	if err != nil {
		return 0, fmt.Errorf("etcd: get watchKey %q from %s: %w", r.key, r.ep.members, err)
	}
	if len(resp.Kvs) == 0 {
		return 0, fmt.Errorf("etcd: watchKey %q does not exist", r.key)
	}
	v, err := strconv.ParseFloat(string(resp.Kvs[0].Value), 64)
	if err != nil {
		return 0, fmt.Errorf("etcd: watchKey %q: value is not a number", r.key)
	}
	return v, nil
}

// endpoint is one client of a set of members with one credential. The
// client is made on first use (with a credential, making it logs in).
type endpoint struct {
	s       *Source
	id      string
	members string
	conf    clientv3.Config
	wake    sources.Wake

	cmu    sync.Mutex
	cli    *clientv3.Client
	closed bool

	mu      sync.Mutex
	watched map[*resource]bool
}

func newEndpoint(s *Source, id string, c Config) (*endpoint, error) {
	var tc *tls.Config
	if c.TLS {
		var err error
		if tc, err = clienttls.Config(Type, c.tls); err != nil {
			return nil, err
		}
	}
	conf := clientv3.Config{
		Endpoints:            c.Endpoints,
		Username:             c.username,
		Password:             c.password,
		TLS:                  tc,
		DialTimeout:          s.opts.DialTimeout,
		DialKeepAliveTime:    30 * time.Second,
		DialKeepAliveTimeout: 10 * time.Second,
		Logger:               zap.NewNop(),
		// gRPC's default wait between connection attempts grows to 2
		// minutes: a member back after a restart would be seen that late.
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 3 * time.Second},
			MinConnectTimeout: s.opts.DialTimeout,
		})},
	}
	return &endpoint{s: s, id: id, members: fmt.Sprint(c.Endpoints), conf: conf, wake: sources.NewWake(), watched: make(map[*resource]bool)}, nil
}

// errClosed is a read's error once the endpoint is closed.
var errClosed = errors.New("etcd: endpoint closed")

// client returns the endpoint's client, making it (and logging in) if
// there is none yet. A failure is not kept: the next call tries again.
func (e *endpoint) client() (*clientv3.Client, error) {
	e.cmu.Lock()
	defer e.cmu.Unlock()
	if e.closed {
		return nil, errClosed
	}
	if e.cli != nil {
		return e.cli, nil
	}
	cli, err := clientv3.New(e.conf)
	if err != nil {
		if errors.Is(err, rpctypes.ErrAuthFailed) || errors.Is(err, rpctypes.ErrGRPCAuthFailed) {
			return nil, fmt.Errorf("etcd: username and password refused by %s: %w", e.members, err)
		}
		return nil, fmt.Errorf("etcd: connecting to endpoints %s: %w", e.members, err)
	}
	e.cli = cli
	return cli, nil
}

// Add and Remove wake Run, which starts and stops watches.
func (e *endpoint) Add(r *resource) {
	e.mu.Lock()
	e.watched[r] = true
	e.mu.Unlock()
	e.wake.Wake()
}

func (e *endpoint) Remove(r *resource) {
	e.mu.Lock()
	delete(e.watched, r)
	e.mu.Unlock()
	e.wake.Wake()
}

// Close closes the client; reads in flight and later fail.
func (e *endpoint) Close() {
	e.cmu.Lock()
	defer e.cmu.Unlock()
	e.closed = true
	if e.cli != nil {
		_ = e.cli.Close()
	}
}

// Run keeps one watch per watched key (none with --disable-push), and
// follows the client's connection: lost, every trigger is
// SubscriptionLost (polled); back, every key is read.
func (e *endpoint) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if e.s.Deps.PushDisabled(Type) {
		e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: ReasonDisabledByConfig,
			Message: "--disable-push etcd: watchKey is read every pollingInterval"})
		for {
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
				e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: ReasonDisabledByConfig,
					Message: "--disable-push etcd: watchKey is read every pollingInterval"})
			}
		}
	}
	var cli *clientv3.Client
	for failures := 0; ; failures++ {
		var err error
		if cli, err = e.client(); err == nil {
			break
		}
		e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: ReasonSubscriptionLost,
			Message: err.Error() + "; watchKey is read every pollingInterval meanwhile"})
		if !sources.Backoff(ctx, e.s.Deps.Clock, e.s.opts.RewatchWait, failures) {
			return
		}
	}
	wg.Add(1)
	go func() { defer wg.Done(); e.follow(ctx, cli) }()
	watches := make(map[*resource]context.CancelFunc)
	defer func() {
		for _, cancel := range watches {
			cancel()
		}
	}()
	for {
		e.mu.Lock()
		for r := range e.watched {
			if watches[r] == nil {
				wctx, cancel := context.WithCancel(ctx)
				watches[r] = cancel
				wg.Add(1)
				go func() { defer wg.Done(); e.watch(wctx, cli, r) }()
			}
		}
		for r, cancel := range watches {
			if !e.watched[r] {
				cancel()
				delete(watches, r)
			}
		}
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
	}
}

// follow reports the client's connection: lost after it was up, every
// resource is SubscriptionLost; up again, every resource is read and
// Subscribed.
func (e *endpoint) follow(ctx context.Context, cli *clientv3.Client) {
	conn := cli.ActiveConnection()
	st := conn.GetState()
	up, lost := false, false
	for {
		switch {
		case st == connectivity.Ready && !up:
			up = true
			if lost {
				lost = false
				e.s.Deps.Scheduler.SetPush(e.id, "", subscribed)
				e.s.Deps.Scheduler.Reconnected(e.id)
			}
		case st != connectivity.Ready && up:
			up, lost = false, true
			e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: ReasonSubscriptionLost,
				Message: "the connection to etcd " + e.members + " is down (" + st.String() + "); watchKey is read every pollingInterval meanwhile"})
		}
		if !conn.WaitForStateChange(ctx, st) {
			return
		}
		st = conn.GetState()
	}
}

var subscribed = store.Push{Healthy: true, Reason: ReasonSubscribed, Message: "watching watchKey: a change is read at once"}

// watch keeps a watch on r's key until ctx ends: every event is a hint;
// the watch is made again (with a read) after etcd cancels it or after
// twice watchProgressNotifyInterval without a word.
func (e *endpoint) watch(ctx context.Context, cli *clientv3.Client, r *resource) {
	sched := e.s.Deps.Scheduler
	for failures := 0; ctx.Err() == nil; {
		err := e.watchOnce(ctx, cli, r)
		if ctx.Err() != nil {
			return
		}
		e.s.Deps.Logger.Debug("etcd: watch ended", "endpoint", e.id, "key", r.key, "err", err)
		sched.SetPush(e.id, r.id.Name, store.Push{Reason: ReasonSubscriptionLost,
			Message: err.Error() + "; watchKey is read every pollingInterval meanwhile"})
		if !sources.Backoff(ctx, e.s.Deps.Clock, e.s.opts.RewatchWait, failures) {
			return
		}
		failures++
	}
}

// watchOnce runs one watch until it ends; it returns why.
func (e *endpoint) watchOnce(ctx context.Context, cli *clientv3.Client, r *resource) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	ch := cli.Watch(wctx, r.key, clientv3.WithCreatedNotify(), clientv3.WithProgressNotify())
	stall := e.s.Deps.Clock.NewTimer(2 * r.progress)
	defer stall.Stop()
	for {
		select {
		case <-stall.C():
			return fmt.Errorf("etcd: watch of watchKey %q: nothing heard for twice watchProgressNotifyInterval", r.key)
		case resp, ok := <-ch:
			if !ok {
				return fmt.Errorf("etcd: watch of watchKey %q closed", r.key)
			}
			if err := resp.Err(); err != nil {
				return fmt.Errorf("etcd: watch of watchKey %q: %w", r.key, err)
			}
			stall.Reset(2 * r.progress)
			if resp.Created {
				e.s.Deps.Scheduler.SetPush(e.id, r.id.Name, subscribed)
				e.s.Deps.Scheduler.Hint(r.id, false) // what changed before the watch
				continue
			}
			if n := len(resp.Events); n > 0 {
				e.s.Deps.Scheduler.Hint(r.id, atLeastOne(resp.Events[n-1]))
			}
		}
	}
}

// atLeastOne reports whether ev leaves the key at a value of at least 1:
// 1 is then a true lower bound of it, and the Scheduler may record it at
// once (the leading edge) so that a target at zero wakes before the read.
func atLeastOne(ev *clientv3.Event) bool {
	if ev.Type != clientv3.EventTypePut {
		return false
	}
	v, err := strconv.ParseFloat(string(ev.Kv.Value), 64)
	return err == nil && v >= 1
}
