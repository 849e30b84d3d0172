package sources_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

// t0 is where every fake clock starts.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// harness is a Scheduler on a fake clock, a fake sink and its own reads
// counter.
type harness struct {
	t     *testing.T
	clock *clocktesting.FakeClock
	sink  *sourcetest.Sink
	reads *prometheus.CounterVec
	s     *sources.Scheduler

	cancel context.CancelFunc
	done   chan error
}

// newHarness returns a harness whose scheduler is not started; opts'
// Source, Sink, Clock and Reads are filled in.
func newHarness(t *testing.T, opts sources.SchedulerOptions) *harness {
	t.Helper()
	h := &harness{
		t:     t,
		clock: clocktesting.NewFakeClock(t0),
		sink:  sourcetest.NewSink(),
		reads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_broker_reads_total",
			Help: "Broker reads by reason.",
		}, []string{"source", "reason"}),
	}
	opts.Source, opts.Sink, opts.Clock, opts.Reads = "test", h.sink, h.clock, h.reads
	h.s = sources.NewScheduler(opts)
	return h
}

// start runs the scheduler until the test ends (or stop).
func (h *harness) start() {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan error, 1)
	go func() { h.done <- h.s.Start(ctx) }()
	h.t.Cleanup(h.stop)
}

// stop cancels Start and waits for it to return nil.
func (h *harness) stop() {
	h.t.Helper()
	if h.cancel == nil {
		return
	}
	h.cancel()
	h.cancel = nil
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Start = %v, want nil", err)
		}
	case <-time.After(sourcetest.WaitTimeout):
		h.t.Fatalf("Start did not return within %s of cancel", sourcetest.WaitTimeout)
	}
}

// settle waits until everything the clock's time asks for has happened.
func (h *harness) settle() {
	h.t.Helper()
	eventually(h.t, "the scheduler to be quiet", h.s.Quiet)
}

// step settles, then moves the clock by d.
func (h *harness) step(d time.Duration) {
	h.t.Helper()
	h.settle()
	h.clock.Step(d)
}

// count returns the reads counted for reason.
func (h *harness) count(reason sources.Reason) int {
	return int(testutil.ToFloat64(h.reads.WithLabelValues("test", string(reason))))
}

// counts returns the reads counted, by reason.
func (h *harness) counts() map[sources.Reason]int {
	out := make(map[sources.Reason]int)
	for _, r := range []sources.Reason{sources.ReasonHint, sources.ReasonPoll, sources.ReasonRepair,
		sources.ReasonReconnect, sources.ReasonWatch} {
		if n := h.count(r); n > 0 {
			out[r] = n
		}
	}
	return out
}

// eventually polls cond until it holds, for at most sourcetest.WaitTimeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(sourcetest.WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// reader is a ReadFunc that counts its calls. When gated, each read waits
// for one release (or its context) before it returns.
type reader struct {
	mu    sync.Mutex
	n     int
	value float64
	err   error
	gate  chan struct{}
}

func newReader(value float64) *reader { return &reader{value: value} }

func failing(err error) *reader { return &reader{err: err} }

// gated makes every read wait for release.
func (r *reader) gated() *reader {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gate = make(chan struct{})
	return r
}

func (r *reader) read(ctx context.Context) (float64, error) {
	r.mu.Lock()
	r.n++
	gate := r.gate
	r.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.value, r.err
}

// calls returns the number of reads started.
func (r *reader) calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// set changes what the next reads return.
func (r *reader) set(value float64, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.value, r.err = value, err
}

// release lets one gated read return, waiting for one to ask.
func (r *reader) release(t *testing.T) {
	t.Helper()
	select {
	case r.gate <- struct{}{}:
	case <-time.After(sourcetest.WaitTimeout):
		t.Fatalf("no read waited to be released (%d started)", r.calls())
	}
}

// awaitCalls waits until n reads have started.
func (r *reader) awaitCalls(t *testing.T, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("read %d to start", n), func() bool { return r.calls() >= n })
}

// wantCalls checks that exactly n reads have started.
func (r *reader) wantCalls(t *testing.T, n int) {
	t.Helper()
	if got := r.calls(); got != n {
		t.Errorf("reads = %d, want %d", got, n)
	}
}

func key(i int) store.Key {
	return store.Key{
		Owner:   store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: fmt.Sprintf("so-%d", i), UID: "uid"},
		Trigger: i,
	}
}

func rid(endpoint, name string) sources.ResourceID {
	return sources.ResourceID{Endpoint: endpoint, Name: name}
}

func att(k store.Key, activation float64, polling time.Duration) sources.Attachment {
	return sources.Attachment{Key: k, Activation: activation, PollingInterval: polling}
}

var (
	healthy   = store.Push{Healthy: true, Reason: "Subscribed"}
	unhealthy = store.Push{Reason: "SubscriptionLost", Message: "connection reset"}
)
