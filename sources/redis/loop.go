package redis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/store"
)

// The PushHealthy reasons this source reports.
const (
	ReasonSubscribed            = "Subscribed"
	ReasonNotificationsDisabled = "NotificationsDisabled"
	ReasonPermissionDenied      = "PermissionDenied"
	ReasonSubscriptionLost      = "SubscriptionLost"
	ReasonDisabledByConfig      = "DisabledByConfig"
	// ReasonTracking (tracking.go) says a trigger is pushed through client
	// tracking.
)

// Run is the endpoint's loop: it keeps one subscription per node that
// serves a resource wanting pushes, follows the topology (every
// Options.TopologyInterval, and at once after a MOVED reply or a lost
// node), and reports push health, resyncs and confirmations to the
// Scheduler. It returns when ctx is done, after stopping the
// subscriptions.
func (e *endpoint) Run(ctx context.Context) {
	clk := e.s.Deps.Clock
	subs := make(map[string]*subscription)
	defer func() {
		for _, s := range subs {
			s.stop()
		}
	}()
	var topoTick <-chan time.Time
	if e.cfg.Kind != Standalone {
		t := clk.NewTicker(e.s.opts.TopologyInterval)
		defer t.Stop()
		topoTick = t.C()
	}
	attempt, force := 0, false
	var retry clock.Timer
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		ok := e.reconcile(ctx, subs, force)
		force = false
		if retry != nil {
			retry.Stop()
			retry = nil
		}
		var retryC <-chan time.Time
		if ok {
			attempt = 0
		} else {
			retry = clk.NewTimer(backoff(attempt))
			attempt++
			retryC = retry.C()
		}
		select {
		case <-ctx.Done():
			return
		case <-e.poke:
		case <-topoTick:
			force = true
		case <-retryC:
			force = true
		}
	}
}

// reconcile brings the subscriptions in line with the resources and the
// topology, and reports what changed. It returns false when the topology
// could not be resolved (to be tried again with backoff).
func (e *endpoint) reconcile(ctx context.Context, subs map[string]*subscription, force bool) bool {
	e.mu.Lock()
	rs := make([]*resource, 0, len(e.resources))
	for _, r := range e.resources {
		rs = append(rs, r)
	}
	stale := e.topo.stale
	e.mu.Unlock()

	// Reads resolve the topology themselves when it is unknown; here it is
	// refreshed when stale, and periodically while something is pushed.
	ok := true
	if e.cfg.Kind != Standalone && len(rs) > 0 {
		push := slices.ContainsFunc(rs, func(r *resource) bool { return !r.pushOff })
		tctx, cancel := context.WithTimeout(ctx, 2*e.s.opts.DialTimeout)
		err := e.resolve(tctx, (force && push) || stale)
		cancel()
		ok = err == nil
	}
	e.mu.Lock()
	topo := e.topo
	e.mu.Unlock()

	want := make(map[string]map[string]bool)
	need := make(map[string]classes)
	for _, r := range rs {
		addr := topo.owner(r.key)
		if r.pushOff || addr == "" {
			continue
		}
		if want[addr] == nil {
			want[addr] = make(map[string]bool)
		}
		want[addr][r.channel] = true
		need[addr] = need[addr].union(required(r.kind, r.observedType()))
	}
	for addr, chans := range want {
		s := subs[addr]
		if s == nil {
			if e.client(addr) == nil {
				return true // stopped
			}
			s = newSubscription(e, addr)
			subs[addr] = s
			s.setWant(chans, need[addr])
			s.start(ctx)
			continue
		}
		s.setWant(chans, need[addr])
	}
	for addr, s := range subs {
		if want[addr] == nil {
			s.stop()
			delete(subs, addr)
		}
	}
	if topo.known && e.cfg.Kind != Standalone {
		keep := make(map[string]bool)
		for _, a := range topo.masters() {
			keep[a] = true
		}
		for a := range subs {
			keep[a] = true
		}
		e.dropClients(keep)
	}
	e.report(rs, topo, subs)
	return ok
}

// report sends the push health of every resource that changed, then a
// resync (Reconnected) when a node's subscription was (re)established, or
// hints for channels subscribed since: a change between a trigger's first
// read and its subscription would otherwise go unseen.
func (e *endpoint) report(rs []*resource, topo topology, subs map[string]*subscription) {
	states := make(map[string]subState, len(subs))
	resync := false
	confirmed := make(map[string]bool)
	for addr, s := range subs {
		st := s.snapshot()
		states[addr] = st
		resync = resync || st.resynced
		for _, ch := range st.confirmed {
			confirmed[ch] = true
		}
	}
	keysOn := make(map[string]int)
	for _, r := range rs {
		keysOn[topo.owner(r.key)]++
	}
	lost := e.takeLost()
	arm := make(map[*resource]bool) // newly tracked, or on a node that forgot its keys: read to register the key
	for _, r := range rs {
		// A trigger joining a resource gets its health from the Scheduler.
		if p, ok := e.pushOf(r, topo, states, keysOn); ok && (!r.hasReported || p != r.reported) {
			// Newly tracked, or by another node (the key's slot moved).
			if p.Reason == ReasonTracking {
				arm[r] = true
			}
			r.viaTracking.Store(p.Reason == ReasonTracking)
			e.s.Deps.Scheduler.SetPush(e.id, r.id.Name, p)
			r.reported, r.hasReported = p, true
		}
		if lost[topo.owner(r.key)] && r.viaTracking.Load() {
			arm[r] = true
		}
	}
	if resync {
		e.s.Deps.Scheduler.Reconnected(e.id)
		return
	}
	for _, r := range rs {
		if (confirmed[r.channel] && !r.pushOff) || arm[r] {
			e.s.Deps.Scheduler.Hint(r.id, false)
		}
	}
}

// pushOf is the push health of r, and false when there is nothing new to
// say (connecting, or the subscription not yet confirmed).
// keysOn counts the resources served by each node: an upper bound of the
// keys the endpoint tracks there.
func (e *endpoint) pushOf(r *resource, topo topology, states map[string]subState, keysOn map[string]int) (store.Push, bool) {
	if r.pushOff {
		return store.Push{Reason: ReasonDisabledByConfig,
			Message: fmt.Sprintf("push is disabled for %s triggers: read every pollingInterval", r.typ)}, true
	}
	addr := topo.owner(r.key)
	if addr == "" {
		if topo.err != nil {
			return store.Push{Reason: ReasonSubscriptionLost,
				Message: fmt.Sprintf("cannot tell which node serves the key: %v; read every pollingInterval meanwhile", topo.err)}, true
		}
		return store.Push{}, false
	}
	st, ok := states[addr]
	if !ok {
		return store.Push{}, false
	}
	switch st.phase {
	case subConnecting:
		return store.Push{}, false
	case subLost:
		return store.Push{Reason: ReasonSubscriptionLost,
			Message: fmt.Sprintf("subscription to %s lost: %v; reconnecting, read every pollingInterval meanwhile", addr, st.err)}, true
	}
	// Why keyspace notifications do not serve r, if they do not.
	var reason, why string
	need := required(r.kind, r.observedType())
	switch err := st.denied[r.channel]; {
	case err != nil:
		reason, why = ReasonPermissionDenied, fmt.Sprintf("%s refused SUBSCRIBE %s: %v", addr, r.channel, err)
	case st.flagsWait:
		return store.Push{}, false
	case !st.flagsKnown:
		reason, why = ReasonNotificationsDisabled, fmt.Sprintf("cannot read notify-keyspace-events on %s (%v): keyspace notifications are taken to be off", addr, st.flagsErr)
	case st.covered.missing(need) != "":
		reason, why = ReasonNotificationsDisabled, fmt.Sprintf("notify-keyspace-events on %s is %q, missing %q (this trigger needs %q; set it, e.g. CONFIG SET notify-keyspace-events %s, or run the gateway with --redis-configure-notifications)",
			addr, st.flags, string(st.covered.missing(need)), string(need), mergeFlags(st.flags, need))
	case st.subscribed[r.channel]:
		return store.Push{Healthy: true, Reason: ReasonSubscribed,
			Message: fmt.Sprintf("subscribed to %s on %s", r.channel, addr)}, true
	default:
		return store.Push{}, false
	}
	switch {
	case st.tracking:
		msg := fmt.Sprintf("server-assisted client tracking on %s: each change of the key is told once, then read (keyspace notifications do not serve it: %s)", addr, why)
		if n := keysOn[addr]; st.tableMax > 0 && int64(n) > st.tableMax {
			msg += fmt.Sprintf("; tracking-table-max-keys on %s is %d, below the keys this gateway tracks there: the server drops keys with invalidations, each costing a read", addr, st.tableMax)
		}
		return store.Push{Healthy: true, Reason: ReasonTracking, Message: msg}, true
	case st.trackWait:
		return store.Push{}, false // tracking is being turned on
	case st.trackErr != nil:
		why += fmt.Sprintf("; client tracking is not available either: %v", st.trackErr)
	}
	return store.Push{Reason: reason, Message: why + "; read every pollingInterval"}, true
}

// backoff is the delay before reconnect attempt n (from 0): 100 ms
// doubling to 30 s, with jitter down to half.
func backoff(n int) time.Duration {
	d := 30 * time.Second
	if n < 9 {
		d = min(d, 100*time.Millisecond<<n)
	}
	return d/2 + rand.N(d/2+1)
}
