package redis

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
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
	client *redis.Client // its own, for the pub/sub connection alone
	connID atomic.Int64  // the CLIENT ID of its latest connection
	wakeCh sources.Wake  // capacity 1: wakes the control loop
	cancel context.CancelFunc
	done   chan struct{}
	// refusedFlags is the last setting CONFIG SET refused, and
	// refusedTracking the last error of turning tracking on, so that each
	// is logged once (session goroutine only).
	refusedFlags, refusedTracking string

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
	tracking       bool     // client tracking is on, redirected to this session's connection
	trackErr       error    // why it could not be turned on, when it was wanted
	tableMax       int64    // tracking-table-max-keys, -1 when it cannot be read
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

func newSubscription(e *endpoint, addr string) *subscription {
	s := &subscription{e: e, addr: addr, wakeCh: sources.NewWake()}
	o := e.options(addr, nil)
	o.PoolSize, o.MaxIdleConns = 1, 0
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error {
		id, err := cn.ClientID(ctx).Result()
		if err != nil {
			id = 0 // tracking cannot be redirected here
		}
		s.connID.Store(id)
		return nil
	}
	s.client = redis.NewClient(o)
	return s
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
	_ = s.client.Close()
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
	s.tracking, s.trackErr, s.tableMax = false, nil, -1
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
	recheck := func() error {
		retry.stop()
		if s.checkConfig(sctx) {
			retry.set(clk.NewTimer(backoff(retries)))
			retries++
		} else {
			retries = 0
		}
		if s.updateTracking(sctx) {
			return s.sync(false) // SUBSCRIBE the invalidations
		}
		return nil
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
	// Before the first SUBSCRIBEs: the resync that follows them reads every
	// resource through connections that redirect here.
	s.updateTracking(sctx)
	s.mu.Lock()
	s.phase = subUp
	s.mu.Unlock()
	if err := s.sync(true); err != nil {
		return false, err
	}
	s.e.poke.Wake()

	tick := clk.NewTicker(s.e.s.opts.ConfigCheckInterval)
	defer tick.Stop()
	health := clk.NewTicker(s.e.s.opts.HealthCheckInterval)
	defer health.Stop()
	for {
		var err error
		select {
		case <-ctx.Done():
			return false, nil
		case err = <-received:
			received = nil
			return false, err
		case <-s.wakeCh:
			if err = s.sync(false); err != nil {
				return false, err
			}
			s.mu.Lock()
			changed := s.need != s.checkedNeed
			// A refused keyspace channel needs tracking; a refusal of
			// tracking itself is tried again with the next check.
			refused := !s.tracking && s.trackErr == nil && s.anyDeniedLocked()
			s.mu.Unlock()
			switch {
			case changed:
				err = recheck()
			case refused && s.updateTracking(sctx):
				err = s.sync(false)
			}
		case <-retry.c():
			err = recheck()
		case <-tick.C():
			if err = recheck(); err != nil {
				return false, err
			}
			s.mu.Lock()
			clear(s.denied) // ACLs may have changed: try those again
			s.mu.Unlock()
			err = s.sync(false)
		case <-health.C():
			s.pingReads(sctx)
		}
		if err != nil {
			return false, err
		}
	}
}

// updateTracking turns client tracking on for the node's read client,
// redirected to this session's connection, when the node's notifications
// do not cover what its resources need (or the setting cannot be read),
// and reads tracking-table-max-keys. It reports whether tracking was
// turned on now; once on, it stays on for the session.
func (s *subscription) updateTracking(ctx context.Context) bool {
	s.mu.Lock()
	want := !s.tracking && !s.flagsTransient && (!s.flagsKnown || s.covered.missing(s.need) != "" || s.anyDeniedLocked())
	s.mu.Unlock()
	if !want {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 2*s.e.s.opts.DialTimeout)
	defer cancel()
	err := s.e.track(ctx, s.addr, s.connID.Load())
	limit := int64(-1)
	if err == nil {
		limit = s.readTableMax(ctx)
	}
	s.mu.Lock()
	s.tracking, s.trackErr, s.tableMax = err == nil, err, limit
	s.mu.Unlock()
	if err != nil && err.Error() != s.refusedTracking { // once per error, not every minute
		s.refusedTracking = err.Error()
		s.e.log.Warn("cannot turn redis client tracking on: keys not covered by keyspace notifications are polled", "node", s.addr, "err", err)
	}
	s.e.poke.Wake()
	return err == nil
}

// anyDeniedLocked reports whether a keyspace channel was refused: its
// resources need tracking.
func (s *subscription) anyDeniedLocked() bool {
	for ch := range s.denied {
		if ch != invalidateChannel {
			return true
		}
	}
	return false
}

// readTableMax reads tracking-table-max-keys; -1 when CONFIG is refused.
func (s *subscription) readTableMax(ctx context.Context) int64 {
	c := s.e.client(s.addr)
	if c == nil {
		return -1
	}
	m, err := c.ConfigGet(ctx, "tracking-table-max-keys").Result()
	if err != nil {
		return -1
	}
	n, err := strconv.ParseInt(m["tracking-table-max-keys"], 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// pingReads PINGs the node's read client while tracking is on, so that a
// read connection the server closed is replaced (and its keys read again,
// tracker.onConnect) while nothing reads.
func (s *subscription) pingReads(ctx context.Context) {
	s.mu.Lock()
	on := s.tracking
	s.mu.Unlock()
	if c := s.e.client(s.addr); on && c != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*s.e.s.opts.DialTimeout)
		defer cancel()
		if c.Ping(ctx).Err() != nil {
			_ = c.Ping(ctx).Err() // on a new connection
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
	if s.tracking && !s.requested[invalidateChannel] && s.denied[invalidateChannel] == nil {
		add = append(add, invalidateChannel)
	}
	for ch := range s.requested {
		if !s.wantsLocked(ch) {
			remove = append(remove, ch)
		}
	}
	for ch := range s.denied {
		if !s.wantsLocked(ch) {
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

// wantsLocked reports whether channel ch is wanted on this connection.
func (s *subscription) wantsLocked(ch string) bool {
	return s.want[ch] || (ch == invalidateChannel && s.tracking)
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
	tracking   bool  // client tracking is on, and its invalidations subscribed
	trackWait  bool  // tracking is yet to be tried, or its SUBSCRIBE answered
	trackErr   error // why tracking is not on, when it was wanted
	tableMax   int64 // tracking-table-max-keys, -1 when unknown
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
		tracking:   s.tracking && s.subscribed[invalidateChannel],
		trackWait: (!s.tracking && s.trackErr == nil) ||
			(s.tracking && !s.subscribed[invalidateChannel] && s.denied[invalidateChannel] == nil),
		trackErr: s.trackErr,
		tableMax: s.tableMax,
	}
	if err := s.denied[invalidateChannel]; err != nil && st.trackErr == nil {
		st.trackErr = fmt.Errorf("SUBSCRIBE %s refused by %s: %w", invalidateChannel, s.addr, err)
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
