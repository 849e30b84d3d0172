package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultRetention    = 10 * time.Minute
	// DefaultMaxStreamsPerNamespace keeps a namespace's saved levels (one
	// ConfigMap per namespace, at most about 400 bytes a stream) far below
	// Kubernetes' 1 MiB object limit.
	DefaultMaxStreamsPerNamespace = 1000
)

var (
	// ErrAuthConflict is returned by Check for every trigger of a stream
	// whose triggers do not all have the same authentication.
	ErrAuthConflict = errors.New("the triggers sharing the stream have different authentication")
	// ErrAuthRequired is returned by Parse and Watch for a trigger with
	// neither token nor hmacSecret when Options.RequireAuth is set.
	ErrAuthRequired = errors.New("authentication required")
	// ErrStopped is returned by Watch once Start has returned.
	ErrStopped = errors.New("webhook: source stopped")
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// RequireAuth refuses triggers with neither token nor hmacSecret unless
	// their metadata says allowUnauthenticated: "true"
	// (--webhook-require-auth), and answers 401 to requests without any
	// credential for every stream that is not open, watched or not.
	RequireAuth bool
	// RefusalRate and RefusalBurst throttle each client address whose
	// requests are refused (400, 401, 405, 413, 415): a token bucket per
	// address (IPv6: per /64); past it, 429 before the request is read.
	// Defaults DefaultRefusalRate and DefaultRefusalBurst; a negative
	// RefusalRate turns it off.
	RefusalRate  float64
	RefusalBurst int
	// refusalClients bounds the addresses remembered (tests).
	refusalClients int
	// RateLimit is the events per second each stream accepts (a token
	// bucket per namespace and stream); 0 is unlimited.
	RateLimit float64
	// RateBurst is the bucket's size; default RateLimit rounded up, at
	// least 1. A batch larger than the burst is refused.
	RateBurst int
	// Clock drives windows, TTLs and rate limits; default the real clock.
	Clock clock.WithTicker
	// Logger receives debug lines about refused requests; default discards.
	Logger *slog.Logger
	// Registerer, when not nil, registers the events counter if this
	// source creates it.
	Registerer prometheus.Registerer
	// Events is pushscale_events_total, with labels source, result and
	// reason, when another package owns it; nil creates it.
	Events *prometheus.CounterVec
	// Recheck, when not nil, is called with the owner of every trigger
	// whose Check answer may have changed because of another trigger (a
	// conflict on its stream began or ended), so that its owner is checked
	// again. It is called from Watch and Unwatch, never with a lock held,
	// and must not block or call back into the source.
	Recheck func(store.Owner)
	// OnChange, when not nil, is called after levels change so that they
	// can be saved (see Levels). Calls are coalesced and made from Start's
	// goroutine, never from a request; it should not block for long.
	OnChange func()
	// MaxBodyBytes bounds a request body; default 1 MiB.
	MaxBodyBytes int64
	// MaxBatchEvents bounds the events of one CloudEvents batch: decoding
	// stops at the next one and the request is answered 413. Default
	// DefaultMaxBatchEvents.
	MaxBatchEvents int
	// ReplayCacheSize bounds the timestamped signatures remembered against
	// replays (about 40 bytes each); past it such requests are answered
	// 503 (retryable) until older ones leave the window. Default
	// DefaultReplayCacheSize.
	ReplayCacheSize int
	// MaxInFlight bounds the requests handled at once; more are answered
	// 503 (retryable) before their body is read. Default
	// DefaultMaxInFlight.
	MaxInFlight int
	// MaxBufferedBytes bounds the body bytes all requests hold together
	// (capacity reserved as bodies arrive, never as declared); a body
	// that would pass it is answered 503 (retryable). Default
	// DefaultMaxBufferedBytes.
	MaxBufferedBytes int64
	// Retention is how long the level of a stream nobody watches any more
	// (or a restored level nobody watches yet) is kept, so that a trigger
	// that watches it again resumes from it; default 10 minutes. POSTs to
	// such a stream get 404 meanwhile.
	Retention time.Duration
	// MaxStreamsPerNamespace bounds the streams of one namespace, watched
	// or held for Retention: a trigger that would add one more is refused
	// (--webhook-max-streams-per-namespace). Default
	// DefaultMaxStreamsPerNamespace.
	MaxStreamsPerNamespace int
}

func (o Options) withDefaults() Options {
	sources.DefaultClockLogger(&o.Clock, &o.Logger)
	sources.Default(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	sources.Default(&o.MaxBatchEvents, DefaultMaxBatchEvents)
	if o.RefusalRate == 0 || math.IsNaN(o.RefusalRate) {
		o.RefusalRate = DefaultRefusalRate
	}
	sources.Default(&o.RefusalBurst, DefaultRefusalBurst)
	sources.Default(&o.refusalClients, defaultRefusalClients)
	sources.Default(&o.ReplayCacheSize, DefaultReplayCacheSize)
	sources.Default(&o.MaxInFlight, DefaultMaxInFlight)
	sources.Default(&o.MaxBufferedBytes, DefaultMaxBufferedBytes)
	sources.Default(&o.Retention, DefaultRetention)
	sources.Default(&o.MaxStreamsPerNamespace, DefaultMaxStreamsPerNamespace)
	if o.RateLimit < 0 || math.IsNaN(o.RateLimit) {
		o.RateLimit = 0
	}
	if o.RateLimit > 0 && o.RateBurst <= 0 {
		o.RateBurst = int(min(math.Ceil(o.RateLimit), math.MaxInt32))
	}
	return o
}

// Level is the saved level of one stream (see Source.Levels). Arrivals are
// not saved: they leave their window by themselves.
type Level struct {
	Namespace string
	Stream    string
	Value     float64
	// At is when the stream last received an event; TTLs run from it.
	At time.Time
}

// Source serves webhook triggers. It is safe for concurrent use.
type Source struct {
	sink   sources.Sink
	opts   Options
	clock  clock.WithTicker
	log    *slog.Logger
	events eventCounters
	sched  *schedule
	bufs   sync.Pool // *[]byte for request bodies

	replays  *replayCache
	refusals *refusalTable // nil: refusals not throttled
	inFlight atomic.Int64  // requests being handled
	buffered atomic.Int64  // capacity of the body buffers requests hold

	closed atomic.Bool
	// loopIdle is true while Start's loop is about to block or blocked,
	// with every timer armed from a fresh reading of the clock. Tests step
	// a fake clock only then.
	loopIdle atomic.Bool
	dirty    atomic.Bool   // a change awaits OnChange
	changed  chan struct{} // capacity 1: wakes Start to call OnChange

	mu      sync.RWMutex
	streams map[streamKey]*stream
	byKey   map[store.Key]*stream
	// perNamespace counts the streams of each namespace in streams.
	perNamespace map[string]int
}

var (
	_ sources.Source  = (*Source)(nil)
	_ sources.Checker = (*Source)(nil)
)

// New returns a source that records into sink. It panics if
// Options.Registerer refuses the events counter for a reason other than it
// being registered already.
func New(sink sources.Sink, opts Options) *Source {
	opts = opts.withDefaults()
	s := &Source{
		sink:         sink,
		opts:         opts,
		clock:        opts.Clock,
		log:          opts.Logger.With("source", Type),
		events:       newEventCounters(eventsVec(opts.Events, opts.Registerer)),
		sched:        newSchedule(),
		replays:      newReplayCache(opts.ReplayCacheSize),
		changed:      make(chan struct{}, 1),
		streams:      make(map[streamKey]*stream),
		byKey:        make(map[store.Key]*stream),
		perNamespace: make(map[string]int),
	}
	if opts.RefusalRate > 0 {
		s.refusals = newRefusalTable(opts.RefusalRate, opts.RefusalBurst, opts.refusalClients, opts.Clock.Now())
	}
	s.bufs.New = func() any { b := make([]byte, 0, initialBodyBuffer); return &b }
	return s
}

// Parse validates t. With Options.RequireAuth, a trigger needs a token or
// an hmacSecret.
func (s *Source) Parse(t sources.Trigger) (sources.Spec, error) {
	c, err := s.parse(t)
	if err != nil {
		return sources.Spec{}, err
	}
	return c.Spec(t.Key.Trigger), nil
}

func (s *Source) parse(t sources.Trigger) (Config, error) {
	c, err := ParseConfig(t)
	if err != nil {
		return Config{}, err
	}
	if s.opts.RequireAuth && !c.HasAuth() && !c.AllowUnauthenticated {
		return Config{}, fmt.Errorf("webhook: stream %q: %w (--webhook-require-auth): give the trigger a TriggerAuthentication with %s or %s, or open the stream to anyone with the metadata %s: \"true\"",
			c.Stream, ErrAuthRequired, paramToken, paramHMACSecret, keyAllowUnauth)
	}
	return c, nil
}

// Watch starts recording t's stream for t: at once its current level (0 for
// a stream nobody has posted to, or a restored level), then every change.
//
// Triggers that share a stream must have the same authentication. One that
// differs is watched all the same (its Watch succeeds), but while the
// stream's triggers disagree the stream accepts nothing, records nothing,
// and Check answers ErrAuthConflict for every one of them, whichever came
// first; Options.Recheck is told of the others. Once the one that differs
// is unwatched or agrees again, all are recorded again.
func (s *Source) Watch(t sources.Trigger) error {
	c, err := s.parse(t)
	if err != nil {
		s.Unwatch(t.Key)
		return err
	}
	now := s.clock.Now()
	key := streamKey{namespace: t.Key.Namespace, name: c.Stream}

	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		return ErrStopped
	}
	var recheck []store.Owner
	if old := s.byKey[t.Key]; old != nil && old.key != key {
		delete(s.byKey, t.Key)
		recheck = s.detachLocked(old, t.Key, now)
	}
	st := s.streams[key]
	if st == nil {
		if n := s.perNamespace[key.namespace]; n >= s.opts.MaxStreamsPerNamespace {
			s.mu.Unlock()
			s.Unwatch(t.Key)
			return fmt.Errorf("webhook: stream %q: namespace %s already has %d webhook streams (watched, or held %s after their last trigger), the most --webhook-max-streams-per-namespace allows",
				c.Stream, key.namespace, n, s.opts.Retention)
		}
		st = newStream(s, key)
		s.addLocked(st)
	}
	st.mu.Lock()
	st.attach(t.Key, c, now)
	if st.settle() {
		recheck = append(recheck, st.owners()...)
	}
	s.byKey[t.Key] = st
	s.mu.Unlock()
	now = s.clock.Now() // under st.mu: records of st stay in time order

	reset := st.expire(now)
	st.serve(now) // the new trigger, and any level the TTL changed
	st.reschedule(now)
	st.mu.Unlock()
	if reset {
		s.markChanged()
	}
	s.recheck(recheck)
	return nil
}

// Check returns ErrAuthConflict, naming the stream and a trigger that
// differs, while watched trigger k shares its stream with triggers of
// other authentication; nil otherwise (k unknown included). The error
// never holds a credential.
func (s *Source) Check(k store.Key) error {
	s.mu.RLock()
	st := s.byKey[k]
	s.mu.RUnlock()
	if st == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.find(k)
	if !st.conflicted || i < 0 {
		return nil
	}
	other := st.rival(st.watchers[i])
	if other == nil { // not expected: conflicted means two differ
		return fmt.Errorf("webhook: stream %q in namespace %q: %w", st.key.name, st.key.namespace, ErrAuthConflict)
	}
	o := other.key.Owner
	return fmt.Errorf("webhook: stream %q in namespace %q: %w (this trigger's differs from that of %s %s, trigger %d): triggers that share a stream must use the same token, hmacSecret, signatureHeader and requireTimestamp; until they do, the stream accepts nothing",
		st.key.name, st.key.namespace, ErrAuthConflict, o.Kind, o.Name, other.key.Trigger)
}

// recheck passes owners to Options.Recheck. No lock may be held.
func (s *Source) recheck(owners []store.Owner) {
	if s.opts.Recheck == nil {
		return
	}
	for i, o := range owners {
		if !slices.Contains(owners[:i], o) {
			s.opts.Recheck(o)
		}
	}
}

// Unwatch stops recording for k. When k was its stream's last watcher, the
// stream stops accepting events (404) and its level is kept for
// Options.Retention in case a trigger watches it again. When k was what
// its stream's triggers disagreed on, the others are recorded again.
func (s *Source) Unwatch(k store.Key) {
	now := s.clock.Now()
	s.mu.Lock()
	st := s.byKey[k]
	if st == nil {
		s.mu.Unlock()
		return
	}
	delete(s.byKey, k)
	recheck := s.detachLocked(st, k, now)
	s.mu.Unlock()
	s.recheck(recheck)
}

// detachLocked removes watcher k from st, parking or dropping st when it
// was the last. It returns the owners to recheck: those of the watchers
// left when their conflict ended. s.mu is held, st.mu is not.
func (s *Source) detachLocked(st *stream, k store.Key, now time.Time) []store.Owner {
	st.mu.Lock()
	reset := st.detach(k, now)
	var recheck []store.Owner
	if st.settle() {
		recheck = st.owners()
	}
	if !st.watched() {
		if st.explicit == 0 {
			s.dropLocked(st)
		} else {
			st.parked = now.Add(s.opts.Retention)
		}
	}
	st.serve(now)
	st.reschedule(now)
	st.mu.Unlock()
	if reset {
		s.markChanged()
	}
	return recheck
}

// dropLocked removes st from the table. s.mu and st.mu are held.
func (s *Source) dropLocked(st *stream) {
	if s.streams[st.key] == st {
		delete(s.streams, st.key)
		if s.perNamespace[st.key.namespace]--; s.perNamespace[st.key.namespace] <= 0 {
			delete(s.perNamespace, st.key.namespace)
		}
	}
	st.gone = true
}

// addLocked adds st to the table. s.mu is held.
func (s *Source) addLocked(st *stream) {
	s.streams[st.key] = st
	s.perNamespace[st.key.namespace]++
}

// Restore sets saved levels, as returned by Levels before a restart. It may
// be called before or after the triggers are watched: a level is used for a
// stream that has received no event since this source began, is held for
// Options.Retention for a stream nobody watches yet, and is ignored
// otherwise (the live level is newer). Invalid entries are skipped.
func (s *Source) Restore(levels []Level) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range levels {
		if l.Namespace == "" || !streamPattern.MatchString(l.Stream) || !(l.Value >= 0) || math.IsInf(l.Value, 0) {
			s.log.Warn("skipping an invalid saved level", "namespace", l.Namespace, "stream", l.Stream)
			continue
		}
		l.Value = min(l.Value, MaxValue)
		at := l.At
		if at.IsZero() || at.After(now) {
			at = now
		}
		key := streamKey{namespace: l.Namespace, name: l.Stream}
		st := s.streams[key]
		if st == nil {
			if l.Value == 0 {
				continue
			}
			if s.perNamespace[key.namespace] >= s.opts.MaxStreamsPerNamespace {
				s.log.Warn("skipping a saved level: its namespace has --webhook-max-streams-per-namespace streams", "namespace", l.Namespace, "stream", l.Stream)
				continue
			}
			st = newStream(s, key)
			st.parked = now.Add(s.opts.Retention)
			s.addLocked(st)
		}
		st.mu.Lock()
		if !st.touched {
			now := s.clock.Now()
			st.explicit, st.lastEvent = l.Value, at
			st.arr.clear()
			if st.watched() {
				st.expire(now)
				st.publish(now, false)
			}
			st.reschedule(now)
		}
		st.mu.Unlock()
	}
}

// Levels returns the non-zero levels set by value and delta, by namespace
// and stream, for saving; the levels of streams nobody watches but that are
// still retained are included.
func (s *Source) Levels() []Level {
	now := s.clock.Now()
	s.mu.RLock()
	all := make([]*stream, 0, len(s.streams))
	for _, st := range s.streams {
		all = append(all, st)
	}
	s.mu.RUnlock()

	var out []Level
	for _, st := range all {
		st.mu.Lock()
		if !st.gone && st.explicit > 0 && !st.ttlExpired(now) {
			out = append(out, Level{Namespace: st.key.namespace, Stream: st.key.name, Value: st.explicit, At: st.lastEvent})
		}
		st.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Level) int {
		if c := strings.Compare(a.Namespace, b.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.Stream, b.Stream)
	})
	return out
}

// markChanged asks Start to call OnChange. It never blocks.
func (s *Source) markChanged() {
	if s.opts.OnChange == nil || s.dirty.Load() || !s.dirty.CompareAndSwap(false, true) {
		return
	}
	select {
	case s.changed <- struct{}{}:
	default:
	}
}
