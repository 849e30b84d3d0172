package natsjetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Run is the client's push path. It connects (again, with backoff, while
// the server refuses or cannot be reached; nats.go reconnects an
// established connection by itself), then keeps one ordered, headers-only,
// ephemeral consumer (deliver new) per watched stream: each delivery is a
// hint for the stream's resources, additive when the message's subject
// matches the durable consumer's filter. It follows the stream's and the
// consumers' advisories: a stream deleted or created again gets a fresh
// ordered consumer (the old one would resume at a sequence the new stream
// has not reached) and a read; a durable consumer created or deleted gets
// a read. Every (re)connect is followed by Scheduler.Reconnected.
func (e *client) Run(ctx context.Context) {
	for attempt := 0; ; attempt++ {
		ev := &connEvents{poke: e.poke}
		nc, err := e.connect(ev)
		var js jetstream.JetStream
		if err == nil {
			js, err = jetstream.New(nc)
		}
		e.mu.Lock()
		if err == nil && !e.closed {
			e.nc, e.js, e.connErr = nc, js, nil
		} else if err != nil {
			e.connErr = err
		}
		e.mu.Unlock()
		e.tried.Do(func() { close(e.ready) })
		if err == nil {
			attempt = 0
			e.serve(ctx, nc, js, ev)
			nc.Close()
			if ctx.Err() != nil {
				return
			}
			continue
		}
		reason := ReasonSubscriptionLost
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
			reason = ReasonPermissionDenied
		}
		e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: reason, Message: err.Error() + "; polled every pollingInterval meanwhile"})
		if !sources.Backoff(ctx, e.s.Deps.Clock, e.s.opts.ReconnectWait, attempt) {
			return
		}
	}
}

// connEvents carries the connection's callbacks to serve.
type connEvents struct {
	poke         sources.Wake
	disconnected atomic.Bool
	reconnected  atomic.Bool
	closed       atomic.Bool
}

func (ev *connEvents) set(b *atomic.Bool) {
	b.Store(true)
	ev.poke.Wake()
}

// connect dials the servers once. Errors name the URL, never a credential.
func (e *client) connect(ev *connEvents) (*nats.Conn, error) {
	opts := append([]nats.Option{
		nats.Name("pushscale"),
		nats.Timeout(e.s.opts.Timeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(e.s.opts.ReconnectWait),
		nats.NoCallbacksAfterClientClose(),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { ev.set(&ev.disconnected) }),
		nats.ReconnectHandler(func(*nats.Conn) { ev.set(&ev.reconnected) }),
		nats.ClosedHandler(func(*nats.Conn) { ev.set(&ev.closed) }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			e.s.Deps.Logger.Debug("nats-jetstream: asynchronous error", "endpoint", e.id, "err", err)
		}),
	}, e.opts...)
	nc, err := nats.Connect(e.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats-jetstream: connecting to natsClientURL %s: %w", e.url, err)
	}
	return nc, nil
}

// streamPush is the push path of one stream.
type streamPush struct {
	cc     jetstream.ConsumeContext
	subs   []*nats.Subscription
	broken atomic.Bool // to be created again (stream deleted or created)
}

func (p *streamPush) stop() {
	if p.cc != nil {
		p.cc.Stop()
	}
	for _, s := range p.subs {
		_ = s.Unsubscribe()
	}
}

// serve runs the push path on nc until ctx is done or nc is closed.
func (e *client) serve(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, ev *connEvents) {
	defer func() {
		e.mu.Lock()
		if e.nc == nc {
			e.nc, e.js = nil, nil
			e.connErr = errors.New("nats-jetstream: disconnected from natsClientURL " + e.url)
		}
		e.mu.Unlock()
	}()

	pushes := make(map[string]*streamPush)
	defer func() {
		for _, p := range pushes {
			p.stop()
		}
	}()
	reported := make(map[*resource]store.Push)
	e.s.Deps.Scheduler.Reconnected(e.id)
	for {
		var retry <-chan time.Time
		var t clock.Timer
		if e.reconcile(ctx, js, nc, pushes, reported) {
			t = e.s.Deps.Clock.NewTimer(5 * time.Second)
			retry = t.C()
		}
		select {
		case <-ctx.Done():
		case <-e.poke:
		case <-retry:
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		if ev.closed.Load() {
			return
		}
		if ev.disconnected.Swap(false) {
			e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: ReasonSubscriptionLost,
				Message: "disconnected from natsClientURL; reconnecting, polled every pollingInterval meanwhile"})
			clear(reported)
		}
		if ev.reconnected.Swap(false) {
			// nats.go would reset each ordered consumer by itself, at a
			// moment nobody reads after: a consumer created again after a
			// message arrived (deliver new) never delivers it. Create them
			// again here instead; reconcile hints each stream's resources
			// once its consumer exists.
			for stream, p := range pushes {
				p.stop()
				delete(pushes, stream)
			}
			clear(reported)
			e.s.Deps.Scheduler.Reconnected(e.id)
		}
	}
}

// reconcile starts and stops the streams' push paths to match the
// resources, and reports each resource's push health when it changed. It
// returns true when a stream's push path could not be started (tried
// again in 5 s, or on its stream's advisory).
func (e *client) reconcile(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, pushes map[string]*streamPush, reported map[*resource]store.Push) bool {
	want := e.streams()
	for stream, p := range pushes {
		if _, ok := want[stream]; !ok || p.broken.Load() {
			p.stop()
			delete(pushes, stream)
		}
	}
	failed := false
	connected := nc.IsConnected()
	for stream, rs := range want {
		var health store.Push
		switch {
		case e.pushOff:
			health = store.Push{Reason: ReasonDisabledByConfig, Message: "push disabled for nats-jetstream (--disable-push): polled every pollingInterval"}
		case !connected:
			health = store.Push{Reason: ReasonSubscriptionLost, Message: "disconnected from natsClientURL; reconnecting"}
		default:
			if pushes[stream] == nil {
				p, err := e.startStream(ctx, js, nc, stream)
				if err != nil {
					failed = true
					health = store.Push{Reason: ReasonSubscriptionLost, Message: err.Error() + "; polled every pollingInterval meanwhile"}
					break
				}
				pushes[stream] = p
				for _, r := range rs {
					e.s.Deps.Scheduler.Hint(r.id, false) // what arrived before the consumer existed
				}
			}
			health = store.Push{Healthy: true, Reason: ReasonSubscribed, Message: "new messages on stream " + stream + " are pushed"}
		}
		for _, r := range rs {
			if old, ok := reported[r]; !ok || old != health {
				e.s.Deps.Scheduler.SetPush(e.id, r.id.Name, health)
				reported[r] = health
			}
		}
	}
	for r := range reported {
		if _, ok := want[r.stream]; !ok {
			delete(reported, r)
		}
	}
	return failed
}

// startStream creates stream's ordered consumer and advisory
// subscriptions.
func (e *client) startStream(ctx context.Context, js jetstream.JetStream, nc *nats.Conn, stream string) (*streamPush, error) {
	p := &streamPush{}
	hints := func(additive func(*resource) bool) {
		for _, r := range e.streamResources(stream) {
			e.s.Deps.Scheduler.Hint(r.id, additive(r))
		}
	}
	adv, err := nc.Subscribe("$JS.EVENT.ADVISORY.STREAM.*."+stream, func(m *nats.Msg) {
		// CREATED, DELETED (and UPDATED, LEADER_ELECTED...): a new
		// ordered consumer for a stream that was created or deleted.
		if ev := advisoryEvent(m.Subject, 4); ev == "CREATED" || ev == "DELETED" {
			p.broken.Store(true)
			e.poke.Wake()
		}
		hints(func(*resource) bool { return false })
	})
	if err != nil {
		return nil, fmt.Errorf("nats-jetstream: subscribing to the advisories of stream %q: %w", stream, err)
	}
	p.subs = append(p.subs, adv)
	cadv, err := nc.Subscribe("$JS.EVENT.ADVISORY.CONSUMER.*."+stream+".*", func(m *nats.Msg) {
		name := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		for _, r := range e.streamResources(stream) {
			if r.consumer == name {
				e.s.Deps.Scheduler.Hint(r.id, false)
			}
		}
	})
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("nats-jetstream: subscribing to the consumer advisories of stream %q: %w", stream, err)
	}
	p.subs = append(p.subs, cadv)

	cctx, cancel := context.WithTimeout(ctx, e.s.opts.Timeout)
	defer cancel()
	cons, err := js.OrderedConsumer(cctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		HeadersOnly:       true,
		InactiveThreshold: time.Minute,
	})
	if err == nil {
		p.cc, err = cons.Consume(func(m jetstream.Msg) {
			subject := m.Subject()
			hints(func(r *resource) bool { return r.additive(subject) })
		},
			// One pull request per stream every 20 minutes while idle (1,000
			// streams: under 1 request/s), heartbeats every 30 s (the most
			// nats.go allows); a
			// reconnect resets the consumer at once, without waiting for a
			// missed heartbeat.
			jetstream.PullExpiry(20*time.Minute), jetstream.PullHeartbeat(30*time.Second),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				if errors.Is(err, jetstream.ErrStreamNotFound) {
					p.broken.Store(true)
					e.poke.Wake()
				}
			}))
	}
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		p.stop()
		return nil, fmt.Errorf("nats-jetstream: stream %q not found", stream)
	}
	if err != nil {
		p.stop()
		return nil, fmt.Errorf("nats-jetstream: consuming new messages of stream %q: %w", stream, err)
	}
	return p, nil
}

// advisoryEvent returns the token at index i of an advisory subject
// ($JS.EVENT.ADVISORY.STREAM.CREATED.<stream>: 4 is CREATED).
func advisoryEvent(subject string, i int) string {
	toks := strings.Split(subject, ".")
	if i < len(toks) {
		return toks[i]
	}
	return ""
}
