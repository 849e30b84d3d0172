package kafka

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// An endpoint is one cluster with one credential: a sources.Endpoint,
// shared by every trigger that uses it and reference counted by the
// Source's sources.Endpoints. It owns one franz-go client, group-less and
// never committing, which serves both the reads (OffsetFetch, ListOffsets,
// Metadata) and the push path (fetches parked at the end of every watched
// partition). franz-go keeps one connection per broker node for fetches
// and one for everything else, plus the bootstrap connection, so an
// endpoint holds a fixed handful per broker node however many triggers it
// serves (the bench measured 4 to a 1-broker cluster at 1,000 triggers).
//
// Its loop (Run) is the only caller of Scheduler.SetPush and Reconnected
// for the endpoint; the poller calls Hint.
type endpoint struct {
	s       *Source
	id      string
	cfg     Config // the connection fields are the same for every trigger
	pushOff bool
	log     *slog.Logger
	cl      *kgo.Client
	adm     *kadm.Client
	poke    sources.Wake // wakes the loop
	initEOF atomic.Bool  // the last connection closed while being set up

	mu        sync.Mutex
	resources map[string]*resource // by name
	ends      map[tp]int64         // the latest log-end offset a read saw, per partition
	fetch     fetchState
}

// fetchState is what the client's hooks learned of the push path.
type fetchState struct {
	ok      bool      // the last fetch was answered
	err     error     // the last fetch or dial error, when !ok
	changed bool      // since the loop last looked
	at      time.Time // of the last answer
}

// A resource is one read on the endpoint (a sources.Resource): one group's
// lag on one topic or on all its topics, under one set of KEDA's rules.
type resource struct {
	e   *endpoint
	id  sources.ResourceID
	cfg Config

	// prev is KEDA's previousOffsets (excludePersistentLag). The Scheduler
	// runs one read of a resource at a time, so only Read touches it.
	prev map[tp]int64

	// Guarded by e.mu, written by Read for the push path.
	parts  map[tp]bool    // the partitions the last read counted
	counts map[string]int // partitions per topic the last read saw in the metadata
	active bool           // the last read's value was active: its partitions need no fetch
}

func newEndpoint(s *Source, id string, c Config, pushOff bool) (*endpoint, error) {
	opts, err := c.connOpts()
	if err != nil {
		return nil, err
	}
	e := &endpoint{
		s:         s,
		id:        id,
		cfg:       c,
		pushOff:   pushOff,
		log:       s.Deps.Logger.With("endpoint", id),
		poke:      sources.NewWake(),
		resources: make(map[string]*resource),
		ends:      make(map[tp]int64),
	}
	o := s.opts
	opts = append(opts,
		kgo.ClientID("pushscale"),
		kgo.DialTimeout(o.DialTimeout),
		// The fetches only say "something landed": one batch is enough.
		kgo.FetchMaxWait(o.FetchMaxWait),
		kgo.FetchMaxBytes(1),
		kgo.FetchMaxPartitionBytes(1),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		// Without fetch sessions each parked fetch names every partition
		// (a few bytes each). franz-go v1.22.3 kills a session on Close
		// while a fetch it has just restarted reads it (a data race).
		kgo.DisableFetchSessions(),
		// Reads come rarely while idle; keep their connection meanwhile.
		kgo.ConnIdleTimeout(10*time.Minute),
		kgo.MetadataMaxAge(10*time.Minute),
		kgo.WithHooks(hooks{e}),
		// No KIP-714 client telemetry. With this set the bench still counted
		// 0.03 PushTelemetry/s (of 0.10 requests/s beyond the parked fetches
		// at 1,000 idle triggers, 2026-12-06) against kfake: not verified
		// that the option takes effect there.
		kgo.DisableClientMetrics(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, describe(c, "", err)
	}
	e.cl, e.adm = cl, kadm.NewClient(cl)
	return e, nil
}

// newResource returns the resource id of the endpoint; Add makes it part of
// the push path.
func (e *endpoint) newResource(id sources.ResourceID, c Config) *resource {
	return &resource{e: e, id: id, cfg: c, prev: make(map[tp]int64)}
}

// Add makes r part of the push path once a read has told its partitions.
func (e *endpoint) Add(r *resource) {
	e.mu.Lock()
	e.resources[r.id.Name] = r
	e.mu.Unlock()
}

// Remove forgets r; the loop stops fetching partitions no other resource
// watches.
func (e *endpoint) Remove(r *resource) {
	e.mu.Lock()
	delete(e.resources, r.id.Name)
	e.mu.Unlock()
	e.poke.Wake()
}

// Close closes the client, once Run has returned (or never ran); reads
// that follow fail.
func (e *endpoint) Close() { e.cl.Close() }

// noteRead records what a read of r learned, for the push path.
func (e *endpoint) noteRead(r *resource, parts map[tp]offsets, counts map[string]int, active bool) {
	e.mu.Lock()
	r.parts = make(map[tp]bool, len(parts))
	for p, o := range parts {
		r.parts[p] = true
		if o.end > e.ends[p] {
			e.ends[p] = o.end
		}
	}
	r.counts, r.active = counts, active
	e.mu.Unlock()
	e.poke.Wake()
}

// setFetch records the outcome of a fetch (err nil) or a failed fetch or
// dial; the loop reports changes.
func (e *endpoint) setFetch(err error) {
	e.mu.Lock()
	ok := err == nil
	if ok != e.fetch.ok || (!ok && e.fetch.err == nil) {
		e.fetch.changed = true
	}
	e.fetch.ok, e.fetch.err = ok, err
	if ok {
		e.fetch.at = time.Now()
	}
	changed := e.fetch.changed
	e.mu.Unlock()
	if changed {
		e.poke.Wake()
	}
}

// hooks report the client's fetches and failed dials to the endpoint.
type hooks struct{ e *endpoint }

var (
	_ kgo.HookBrokerE2E     = hooks{}
	_ kgo.HookBrokerConnect = hooks{}
)

// OnBrokerE2E takes every request's outcome as the connection's health:
// fetches are parked on it, and while every partition is paused (all its
// triggers active) the reads are what is left to tell.
func (h hooks) OnBrokerE2E(_ kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	h.e.setFetch(e2e.Err())
}

func (h hooks) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	h.e.initEOF.Store(errors.Is(err, io.EOF))
	if err != nil {
		h.e.setFetch(err)
	}
}

// pushOf is the push health to report for the endpoint's current fetch state.
func (e *endpoint) pushOf(st fetchState, partitions int) store.Push {
	if st.ok {
		return store.Push{Healthy: true, Reason: ReasonSubscribed,
			Message: "fetches parked at the end of the watched partitions (" + itoa(partitions) + " on this cluster)"}
	}
	return store.Push{Reason: ReasonSubscriptionLost,
		Message: "fetching from the cluster failed: " + e.describe("", st.err).Error() + "; reconnecting, read every pollingInterval meanwhile"}
}

// Read is the resource's authoritative read; see read.go.
func (r *resource) Read(ctx context.Context) (float64, error) { return r.e.read(ctx, r) }
