package webhook

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pushscale/pushscale/store"
)

// streamKey names a stream: streams are per namespace.
type streamKey struct {
	namespace, name string
}

// watcher is one trigger watching a stream.
type watcher struct {
	key      store.Key
	window   int64         // seconds
	ttl      time.Duration // 0: none
	last     float64       // the last value recorded for it
	recorded bool          // whether last holds anything yet
}

// stream is one level and the triggers that watch it.
//
// Its lock covers every change of its level together with the Record calls
// that publish it, so the store never sees one stream's values out of order.
// Lock order: Source.mu, then stream.mu, then schedule.mu.
type stream struct {
	src *Source
	key streamKey

	// auth is the stream's authentication while anyone watches it, nil
	// otherwise. Written under mu; read without it by the handler.
	auth atomic.Pointer[auth]

	mu        sync.Mutex
	watchers  []*watcher
	windows   []int64       // the distinct windows of watchers, ascending
	ttl       time.Duration // the shortest ttl of watchers, 0 for none
	explicit  float64       // the level set by value and delta
	arr       arrivals      // arrivals, within the longest window
	lastEvent time.Time     // when the last event was accepted (or restored)
	touched   bool          // an event was accepted since the stream was made
	limiter   *tokenBucket  // nil: unlimited
	parked    time.Time     // while nobody watches: when the level is dropped
	gone      bool          // removed from Source.streams
	due       time.Time     // the stream's live entry in the schedule, if any
}

func newStream(src *Source, key streamKey) *stream { return &stream{src: src, key: key} }

// The methods below are called with st.mu held.

func (st *stream) watched() bool { return len(st.watchers) > 0 }

func (st *stream) maxWindow() int64 {
	if len(st.windows) == 0 {
		return 0
	}
	return st.windows[len(st.windows)-1]
}

func (st *stream) find(k store.Key) int {
	return slices.IndexFunc(st.watchers, func(w *watcher) bool { return w.key == k })
}

// attach adds or replaces the watcher of k. The caller has checked that its
// authentication agrees with the other watchers'.
func (st *stream) attach(k store.Key, c Config, now time.Time) {
	var w *watcher
	if i := st.find(k); i >= 0 {
		w = st.watchers[i]
	} else {
		w = &watcher{key: k}
		st.watchers = append(st.watchers, w)
	}
	w.window, w.ttl, w.recorded = int64(c.Window/time.Second), c.TTL, false
	st.parked = time.Time{}
	if cur := st.auth.Load(); cur == nil || !cur.equal(c.auth) {
		st.auth.Store(c.auth)
	}
	if st.limiter == nil && st.src.opts.RateLimit > 0 {
		st.limiter = newTokenBucket(st.src.opts.RateLimit, st.src.opts.RateBurst, now)
	}
	st.configure()
}

// detach removes the watcher of k, if any, after applying any due expiry.
// It reports whether the explicit level was reset by a TTL.
func (st *stream) detach(k store.Key, now time.Time) (reset bool) {
	i := st.find(k)
	if i < 0 {
		return false
	}
	reset = st.expire(now)
	st.watchers = slices.Delete(st.watchers, i, i+1)
	if !st.watched() {
		// Only the explicit level outlives the watchers: arrivals mean
		// nothing without a window.
		st.auth.Store(nil)
		st.arr.clear()
	}
	st.configure()
	return reset
}

// configure derives windows and ttl from the watchers.
func (st *stream) configure() {
	st.windows, st.ttl = st.windows[:0], 0
	for _, w := range st.watchers {
		if !slices.Contains(st.windows, w.window) {
			st.windows = append(st.windows, w.window)
		}
		if w.ttl > 0 && (st.ttl == 0 || w.ttl < st.ttl) {
			st.ttl = w.ttl
		}
	}
	slices.Sort(st.windows)
}

// conflict returns a watcher other than k, if there is one, when auth a
// differs from the stream's.
func (st *stream) conflict(k store.Key, a *auth) *watcher {
	cur := st.auth.Load()
	if cur == nil || cur.equal(a) {
		return nil
	}
	for _, w := range st.watchers {
		if w.key != k {
			return w
		}
	}
	return nil // k is the only watcher: it may change the authentication
}

func (st *stream) nonzero() bool { return st.explicit != 0 || st.arr.total != 0 }

// ttlExpired reports whether the stream has received nothing for its TTL.
func (st *stream) ttlExpired(now time.Time) bool {
	return st.ttl > 0 && st.nonzero() && now.Sub(st.lastEvent) >= st.ttl
}

// expire applies the TTL and drops arrivals older than every window. It
// reports whether the explicit level was reset.
func (st *stream) expire(now time.Time) (reset bool) {
	if st.ttlExpired(now) {
		reset = st.explicit != 0
		st.explicit = 0
		st.arr.clear()
	}
	if st.watched() {
		st.arr.prune(now.Unix() - st.maxWindow())
	}
	return reset
}

// level is the level seen through a window of w seconds at second now,
// once expire has run.
func (st *stream) level(w, now int64) float64 {
	return min(st.explicit+float64(st.arr.count(w, now)), MaxValue)
}

// peek is the level through the longest window at now, without changing
// anything (a TTL that ran out counts as applied).
func (st *stream) peek(now time.Time) float64 {
	if st.ttlExpired(now) {
		return 0
	}
	return st.level(st.maxWindow(), now.Unix())
}

// publish records each watcher's level at now: all of them with all, else
// those never recorded or whose level changed. It records nothing once the
// source has stopped.
func (st *stream) publish(now time.Time, all bool) {
	if st.src.closed.Load() {
		return
	}
	sec := now.Unix()
	for _, w := range st.watchers {
		v := st.level(w.window, sec)
		if all || !w.recorded || v != w.last {
			st.src.sink.Record(w.key, v, now)
			w.last, w.recorded = v, true
		}
	}
}

// post applies the events ops and records the new levels: all of them or
// none. It returns the level through the longest window. The time is read
// under the lock, so that one stream's records never go back in time.
func (st *stream) post(ops []op) (float64, *rejection) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.src.clock.Now()
	if !st.watched() {
		return 0, notFound(st.key)
	}
	if st.src.closed.Load() {
		return 0, errUnavailable
	}
	if st.limiter != nil && float64(len(ops)) > st.limiter.burst {
		return 0, &rejection{status: http.StatusRequestEntityTooLarge, reason: reasonTooLarge,
			msg: fmt.Sprintf("a batch of %d events is more than the per-stream rate burst of %g: split it", len(ops), st.limiter.burst)}
	}
	save := st.expire(now) // whether the explicit level changed
	if save {
		st.publish(now, false) // even if this request is refused below
	}
	defer func() {
		if save {
			st.src.markChanged()
		}
	}()
	if len(ops) == 0 {
		return st.level(st.maxWindow(), now.Unix()), nil
	}

	explicit, clear, added, rej := st.plan(ops)
	if rej != nil {
		return 0, rej
	}
	if st.limiter != nil {
		if ok, wait := st.limiter.allow(len(ops), now); !ok {
			return 0, &rejection{status: http.StatusTooManyRequests, reason: reasonRateLimited,
				msg: "rate limit of the stream exceeded", retryAfter: retryAfterSeconds(wait)}
		}
	}

	save = save || explicit != st.explicit
	st.explicit = explicit
	if clear {
		st.arr.clear()
	}
	if added > 0 {
		st.arr.add(now.Unix(), added)
	}
	st.lastEvent, st.touched = now, true
	st.publish(now, true)
	st.reschedule(now)
	return st.level(st.maxWindow(), now.Unix()), nil
}

// plan works out what ops do, in order, without changing anything: the new
// explicit level, whether the arrivals so far are cleared (by a value), and
// the arrivals added after that.
func (st *stream) plan(ops []op) (explicit float64, clear bool, added uint64, rej *rejection) {
	explicit = st.explicit
	for _, o := range ops {
		switch o.kind {
		case opValue:
			explicit, clear, added = o.n, true, 0
		case opDelta:
			explicit = min(max(explicit+o.n, 0), MaxValue) // both within ±MaxValue: no overflow
		case opArrival:
			added++
		}
	}
	return explicit, clear, added, nil
}

// read returns the level for a GET.
func (st *stream) read() (float64, *rejection) {
	st.mu.Lock()
	defer st.mu.Unlock()
	now := st.src.clock.Now()
	if !st.watched() {
		return 0, notFound(st.key)
	}
	return st.peek(now), nil
}

// nextDue returns when the stream must next be looked at.
func (st *stream) nextDue(now time.Time) (time.Time, bool) {
	if !st.watched() {
		return st.parked, !st.parked.IsZero()
	}
	var at time.Time
	if st.ttl > 0 && st.nonzero() {
		at = st.lastEvent.Add(st.ttl)
	}
	sec := now.Unix()
	for _, w := range st.windows {
		if exp, ok := st.arr.expiry(w, sec); ok {
			if t := time.Unix(exp, 0); at.IsZero() || t.Before(at) {
				at = t
			}
		}
	}
	return at, !at.IsZero()
}

// reschedule makes sure the schedule holds an entry no later than the
// stream's next due time.
func (st *stream) reschedule(now time.Time) {
	at, ok := st.nextDue(now)
	if !ok || st.gone {
		return
	}
	if st.due.IsZero() || at.Before(st.due) {
		st.due = at
		st.src.sched.add(at, st)
	}
}
