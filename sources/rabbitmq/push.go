package rabbitmq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
)

// retryWait is how long a shadow queue that could not be set up waits
// before it is tried again.
const retryWait = 5 * time.Second

// shadowArgs make a shadow queue hold one message at most, dropping the
// older: it carries the fact of a publish, not the publishes.
var shadowArgs = amqp.Table{"x-max-length": int32(1), "x-overflow": "drop-head"}

// shadow is the shadow queue of one resource: a server-named, exclusive,
// auto-delete queue of the gateway's, bound like the watched queue and
// consumed (no-ack) while the resource is idle.
type shadow struct {
	ch       *amqp.Channel
	queue    string
	bindings []Binding
	done     chan struct{} // closed when its deliveries have ended
}

// stop closes the shadow's channel (its consumer goes, and the auto-delete
// queue with it) and waits until no delivery is forwarded any more.
func (sh *shadow) stop() {
	_ = sh.ch.Close()
	<-sh.done
}

// pushState is what serve knows of its connection's resources.
type pushState struct {
	shadows  map[*resource]*shadow
	reported map[*resource]store.Push
	bound    map[*resource]bindingsRead
}

// bindingsRead is the last read of a queue's bindings.
type bindingsRead struct {
	at       time.Time
	bindings []Binding
	err      error
}

// serve runs the push path on c until ctx is done or c is closed: each idle
// resource with bindings to tap has a shadow queue whose deliveries are
// additive hints; an active one has none (the Scheduler reads it every
// pollingInterval). Nothing is hinted after serve returns.
func (e *conn) serve(ctx context.Context, c *amqp.Connection) {
	lost := c.NotifyClose(make(chan *amqp.Error, 1))
	p := &pushState{shadows: map[*resource]*shadow{}, reported: map[*resource]store.Push{}, bound: map[*resource]bindingsRead{}}
	defer func() {
		for _, sh := range p.shadows {
			sh.stop()
		}
	}()
	e.s.Deps.Scheduler.Reconnected(e.id)
	for {
		var retry <-chan time.Time
		var t clock.Timer
		if e.reconcile(ctx, c, p) {
			t = e.s.Deps.Clock.NewTimer(retryWait)
			retry = t.C()
		}
		select {
		case <-ctx.Done():
		case <-e.poke:
		case <-retry:
		case err := <-lost:
			msg := "connection to the broker lost"
			if err != nil {
				msg += ": " + err.Reason
			}
			e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: v1alpha1.ReasonSubscriptionLost, Message: msg + "; reconnecting, " + e.s.pollMessage() + " meanwhile"})
			e.mu.Lock()
			if e.amqp == c {
				e.amqp, e.connErr = nil, fmt.Errorf("rabbitmq: %s", msg)
			}
			e.mu.Unlock()
			if t != nil {
				t.Stop()
			}
			return
		}
		if t != nil {
			t.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// reconcile makes the shadow queues match the resources and reports each
// resource's push health when it changed. It returns true when something
// failed and should be tried again in a while.
func (e *conn) reconcile(ctx context.Context, c *amqp.Connection, p *pushState) bool {
	e.mu.Lock()
	var rs []*resource
	rebind := make(map[*resource]bool)
	for r := range e.resources {
		rs = append(rs, r)
		if e.rebind[r] {
			rebind[r] = true
			delete(e.rebind, r)
		}
	}
	e.mu.Unlock()

	for r, sh := range p.shadows {
		if !slices.Contains(rs, r) || sh.ch.IsClosed() {
			sh.stop()
			delete(p.shadows, r)
		}
	}
	for r := range p.bound {
		if !slices.Contains(rs, r) {
			delete(p.bound, r)
		}
	}
	failed := false
	down := map[string]error{} // management APIs that failed in this pass
	for _, r := range rs {
		health, err := e.reconcileOne(ctx, c, r, p, rebind[r], down)
		if err != nil {
			failed = true
			health = store.Push{Reason: v1alpha1.ReasonSubscriptionLost, Message: err.Error() + "; " + e.s.pollMessage() + " meanwhile"}
		}
		if old, had := p.reported[r]; !had || old != health {
			e.s.Deps.Scheduler.SetPush(e.id, r.id.Name, health)
			p.reported[r] = health
		}
	}
	for r := range p.reported {
		if !slices.Contains(rs, r) {
			delete(p.reported, r)
		}
	}
	return failed
}

// reconcileOne sets up or tears down r's shadow queue and returns r's push
// health (the caller reports it when it changed).
func (e *conn) reconcileOne(ctx context.Context, c *amqp.Connection, r *resource, p *pushState, rebind bool, down map[string]error) (store.Push, error) {
	if e.pushOff {
		return store.Push{Reason: v1alpha1.ReasonDisabledByConfig, Message: "push disabled for rabbitmq (--disable-push): " + e.s.pollMessage()}, nil
	}
	sh, idle := p.shadows[r], r.idle()
	last, read := p.bound[r]
	age := e.s.Deps.Clock.Since(last.at)
	// The bindings are read once per connection, then again after a failure
	// (retryWait) and on reads while idle (BindingsRecheck).
	if !read || last.err != nil && age >= retryWait || idle && (rebind || sh == nil) && age >= e.s.opts.BindingsRecheck {
		last = bindingsRead{at: e.s.Deps.Clock.Now()}
		last.bindings, last.err = e.bindings(ctx, r, down)
		p.bound[r] = last
	}
	if last.err != nil {
		return store.Push{}, last.err
	}
	if sh != nil && (!idle || !sameBindings(sh.bindings, last.bindings)) {
		// Active: the Scheduler reads every pollingInterval and no copy of
		// the application's publishes is taken; or the bindings changed.
		sh.stop()
		delete(p.shadows, r)
		sh = nil
	}
	if len(last.bindings) == 0 {
		return store.Push{Reason: v1alpha1.ReasonNotSupported, Message: fmt.Sprintf(
			"queue %q is bound to no exchange but the default one, whose publishes cannot be tapped without consuming the application's messages: %s", r.c.QueueName, e.s.pollMessage())}, nil
	}
	if idle && sh == nil {
		var err error
		if sh, err = e.startShadow(c, r, last.bindings); err != nil {
			p.bound[r] = bindingsRead{at: last.at, err: err} // tried again after retryWait
			return store.Push{}, err
		}
		p.shadows[r] = sh
		// A publish between the read that found r idle and the consumer's
		// start would be missed: read once more.
		e.s.Deps.Scheduler.Hint(r.id, false)
	}
	names := make([]string, len(last.bindings))
	for i, b := range last.bindings {
		names[i] = b.String()
	}
	return store.Push{Healthy: true, Reason: v1alpha1.ReasonSubscribed, Message: fmt.Sprintf(
		"publishes through %s wake the trigger while idle (a shadow queue holding one copy); read every pollingInterval while active", strings.Join(names, ", "))}, nil
}

// bindings returns what r's shadow queue copies: shadowBindings, or the
// queue's bindings from the management API.
func (e *conn) bindings(ctx context.Context, r *resource, down map[string]error) ([]Binding, error) {
	if r.c.ShadowBindings != nil {
		return r.c.ShadowBindings, nil
	}
	base, vhost := r.c.managementBase()
	if err := down[base.String()]; err != nil {
		return nil, fmt.Errorf("%w (learning the bindings of queue %q; give shadowBindings to name them)", err, r.c.QueueName)
	}
	ctx, cancel := context.WithTimeout(ctx, e.s.opts.Timeout)
	defer cancel()
	bs, err := e.api.bindings(ctx, vhost, r.c.QueueName)
	if err != nil && !errors.Is(err, errQueueMissing) {
		// Unreachable or refusing: the other queues would fare the same
		// in this pass.
		down[base.String()] = err
	}
	if err != nil {
		return nil, fmt.Errorf("%w (learning the bindings of queue %q; give shadowBindings to name them)", err, r.c.QueueName)
	}
	return bs, nil
}

// startShadow declares r's shadow queue on a channel of its own, binds it
// and consumes it; each delivery is an additive hint for r.
func (e *conn) startShadow(c *amqp.Connection, r *resource, bindings []Binding) (*shadow, error) {
	ch, err := c.Channel()
	if err != nil {
		return nil, fmt.Errorf("rabbitmq: opening a channel: %w", err)
	}
	fail := func(what string, err error) (*shadow, error) {
		_ = ch.Close()
		return nil, fmt.Errorf("rabbitmq: shadow queue of %q: %s: %w", r.c.QueueName, what, err)
	}
	q, err := ch.QueueDeclare("", false, true, true, false, shadowArgs)
	if err != nil {
		return fail("declare", err)
	}
	for _, b := range bindings {
		if err := ch.QueueBind(q.Name, b.RoutingKey, b.Exchange, false, b.Args); err != nil {
			return fail("binding to exchange "+b.Exchange, err)
		}
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		return fail("consume", err)
	}
	sh := &shadow{ch: ch, queue: q.Name, bindings: bindings, done: make(chan struct{})}
	go func() {
		defer close(sh.done)
		for range deliveries {
			e.s.Deps.Scheduler.Hint(r.id, true)
		}
	}()
	return sh, nil
}

func sameBindings(a, b []Binding) bool {
	return slices.EqualFunc(a, b, func(x, y Binding) bool {
		return x.Exchange == y.Exchange && x.RoutingKey == y.RoutingKey && fmt.Sprint(x.Args) == fmt.Sprint(y.Args)
	})
}
