package redis

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/sources"
)

// A subscription is the one pub/sub connection of an endpoint to one
// server node. It SUBSCRIBEs to exactly the keyspace channels the endpoint
// wants on that node, reads notify-keyspace-events on every (re)connect and
// every Options.ConfigCheckInterval (merging missing classes in with
// Options.ConfigureNotifications), and reconnects with backoff when the
// connection fails. Its receiver goroutine turns messages into hints.
//
// Replies on a pub/sub connection arrive in the order of the commands, so
// a FIFO of the commands sent (each SUBSCRIBE with its channels) tells
// which SUBSCRIBE an error reply answers: Redis 7.0's NOPERM does not name
// the channel. A refused batch of several channels is sent again one
// channel at a time to find the refused ones.
type subscription struct {
	e      *endpoint
	addr   string
	client *redis.Client
	wakeCh sources.Wake // capacity 1: wakes the control loop
	cancel context.CancelFunc
	done   chan struct{}
	// refusedFlags is the last setting CONFIG SET refused, so that it is
	// logged once (session goroutine only).
	refusedFlags string

	mu          sync.Mutex
	want        map[string]bool // channels the endpoint wants here
	need        classes         // notification classes they need
	checkedNeed classes         // need at the last configuration check
	phase       subPhase
	err         error // why the connection was lost
	flagsKnown  bool
	flags       string
	covered     classes
	flagsErr    error
	// flagsTransient: the last read failed for a network error; what was
	// known before (if anything) still stands.
	flagsTransient bool
	ps             *redis.PubSub   // the current session's connection
	sctx           context.Context // the current session's context
	fifo           []*pending      // commands whose replies are awaited
	requested      map[string]bool // SUBSCRIBE sent and not undone
	subscribed     map[string]bool // SUBSCRIBE confirmed
	denied         map[string]error
	initial        int      // channels of the session's first SUBSCRIBEs still unanswered
	resynced       bool     // the first SUBSCRIBEs were all answered (until snapshot)
	confirmed      []string // later SUBSCRIBEs confirmed (until snapshot)
}

type subPhase int

const (
	subConnecting subPhase = iota
	subUp
	subLost
)

type pendingKind int

const (
	pendSubscribe pendingKind = iota + 1
	pendUnsubscribe
	pendPing
)

// pending is a command whose replies are awaited: one per channel, or one
// error (SUBSCRIBE), or one pong.
type pending struct {
	kind    pendingKind
	chans   []string
	next    int  // replies received so far
	initial bool // part of the session's first subscription
}

// batchSize bounds the channels of one SUBSCRIBE or UNSUBSCRIBE.
const batchSize = 500

func newSubscription(e *endpoint, addr string, c *redis.Client) *subscription {
	return &subscription{e: e, addr: addr, client: c, wakeCh: sources.NewWake()}
}

// setWant replaces the channels wanted and the classes needed.
func (s *subscription) setWant(want map[string]bool, need classes) {
	s.mu.Lock()
	s.want, s.need = want, need
	s.mu.Unlock()
	s.wakeCh.Wake()
}

func (s *subscription) start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.run(ctx)
	}()
}

// stop closes the connection and waits for the goroutines.
func (s *subscription) stop() {
	s.cancel()
	<-s.done
}

// run connects, and reconnects with backoff, until ctx is done.
func (s *subscription) run(ctx context.Context) {
	clk := s.e.s.Deps.Clock
	attempt := 0
	for {
		healthy, err := s.session(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.phase, s.err = subLost, err
		s.mu.Unlock()
		s.e.log.Warn("redis subscription lost", "node", s.addr, "err", err)
		s.e.markStale() // and wake the endpoint: report it, and look for a new master
		if healthy {
			attempt = 0
		}
		if !sources.Sleep(ctx, clk, backoff(attempt)) {
			return
		}
		attempt++
	}
}

// session runs one connection until it fails (its error) or ctx is done
// (nil). healthy reports whether its first subscription completed.
func (s *subscription) session(ctx context.Context) (healthy bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ps := s.client.Subscribe(sctx) // connects lazily
	s.mu.Lock()
	s.ps, s.sctx, s.phase = ps, sctx, subConnecting
	s.fifo, s.confirmed, s.initial, s.resynced = nil, nil, -1, false
	s.requested, s.subscribed, s.denied = map[string]bool{}, map[string]bool{}, map[string]error{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		healthy = s.initial == 0
		s.mu.Unlock()
	}()

	// PING connects and authenticates now, so that failures show here.
	if err := s.send(pendPing, nil, false); err != nil {
		_ = ps.Close()
		return false, fmt.Errorf("connect to %s: %w", s.addr, err)
	}
	received := make(chan error, 1)
	go func() { received <- s.receive(ps) }()
	defer func() {
		_ = ps.Close()
		if received != nil {
			<-received
		}
	}()

	clk := s.e.s.Deps.Clock
	var retry clockTimer
	defer func() { retry.stop() }()
	retries := 0
	recheck := func() {
		retry.stop()
		if s.checkConfig(sctx) {
			retry.set(clk.NewTimer(backoff(retries)))
			retries++
		} else {
			retries = 0
		}
	}
	// The read client must work before the subscription counts as up: the
	// resync that follows reads every resource through it (and go-redis
	// fails dials for a second after a failed one).
	for s.checkConfig(sctx) {
		t := clk.NewTimer(backoff(retries))
		retries++
		select {
		case <-ctx.Done():
			t.Stop()
			return false, nil
		case err := <-received:
			t.Stop()
			received = nil
			return false, err
		case <-t.C():
		}
	}
	retries = 0
	s.mu.Lock()
	s.phase = subUp
	s.mu.Unlock()
	if err := s.sync(true); err != nil {
		return false, err
	}
	s.e.poke.Wake()

	tick := clk.NewTicker(s.e.s.opts.ConfigCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, nil
		case err := <-received:
			received = nil
			return false, err
		case <-s.wakeCh:
			if err := s.sync(false); err != nil {
				return false, err
			}
			s.mu.Lock()
			changed := s.need != s.checkedNeed
			s.mu.Unlock()
			if changed {
				recheck()
			}
		case <-retry.c():
			recheck()
		case <-tick.C():
			recheck()
			s.mu.Lock()
			clear(s.denied) // ACLs may have changed: try those again
			s.mu.Unlock()
			if err := s.sync(false); err != nil {
				return false, err
			}
		}
	}
}

// clockTimer is an optional timer: its channel is nil while unset.
type clockTimer struct{ t clock.Timer }

func (t *clockTimer) set(timer clock.Timer) { t.t = timer }

func (t *clockTimer) c() <-chan time.Time {
	if t.t == nil {
		return nil
	}
	return t.t.C()
}

func (t *clockTimer) stop() {
	if t.t != nil {
		t.t.Stop()
		t.t = nil
	}
}

// sync subscribes to the channels wanted and not requested, and
// unsubscribes from those requested and no longer wanted. first marks the
// session's first subscription, whose completion is a resync.
func (s *subscription) sync(first bool) error {
	s.mu.Lock()
	var add, remove []string
	for ch := range s.want {
		if !s.requested[ch] && s.denied[ch] == nil {
			add = append(add, ch)
		}
	}
	for ch := range s.requested {
		if !s.want[ch] {
			remove = append(remove, ch)
		}
	}
	for ch := range s.denied {
		if !s.want[ch] {
			delete(s.denied, ch)
		}
	}
	if first {
		s.initial = len(add)
		s.resynced = len(add) == 0
	}
	s.mu.Unlock()
	slices.Sort(add)
	slices.Sort(remove)
	for b := range slices.Chunk(remove, batchSize) {
		if err := s.send(pendUnsubscribe, b, false); err != nil {
			return err
		}
	}
	for b := range slices.Chunk(add, batchSize) {
		if err := s.send(pendSubscribe, b, first); err != nil {
			return err
		}
	}
	if first || len(add)+len(remove) > 0 {
		s.e.poke.Wake()
	}
	return nil
}

// send writes one command and queues it for its replies, atomically, so
// that the queue is in the order of the wire.
func (s *subscription) send(kind pendingKind, chans []string, initial bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fifo = append(s.fifo, &pending{kind: kind, chans: chans, initial: initial})
	switch kind {
	case pendSubscribe:
		for _, ch := range chans {
			s.requested[ch] = true
		}
		return s.ps.Subscribe(s.sctx, chans...)
	case pendUnsubscribe:
		for _, ch := range chans {
			delete(s.requested, ch)
		}
		return s.ps.Unsubscribe(s.sctx, chans...)
	default:
		return s.ps.Ping(s.sctx)
	}
}

// subState is a copy of what the endpoint needs to know of a subscription.
type subState struct {
	phase      subPhase
	err        error
	flagsKnown bool
	flagsErr   error
	flagsWait  bool // not known yet, and the last read failed for the network
	flags      string
	covered    classes
	subscribed map[string]bool
	denied     map[string]error
	resynced   bool
	confirmed  []string
}

// snapshot copies the state, and takes the resync and confirmations
// reported since the last snapshot.
func (s *subscription) snapshot() subState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := subState{
		phase: s.phase, err: s.err,
		flagsKnown: s.flagsKnown, flagsErr: s.flagsErr, flags: s.flags, covered: s.covered,
		flagsWait:  !s.flagsKnown && s.flagsTransient,
		subscribed: make(map[string]bool, len(s.subscribed)),
		denied:     make(map[string]error, len(s.denied)),
		resynced:   s.resynced && s.phase == subUp,
		confirmed:  s.confirmed,
	}
	for ch := range s.subscribed {
		st.subscribed[ch] = true
	}
	for ch, err := range s.denied {
		st.denied[ch] = err
	}
	if st.resynced {
		s.resynced = false
	}
	s.confirmed = nil
	return st
}
