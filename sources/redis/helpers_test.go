package redis

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

var key = sourcetest.KeyOf

var (
	keyA = key(store.ScaledObject, "ns", "a", 0)
	keyB = key(store.ScaledJob, "ns", "b", 1)
	keyC = key(store.ScaledObject, "other", "c", 0)
)

// idle is a pollingInterval long enough that no poll happens in a test:
// values can only come from watch, hint and reconnect reads.
const idle = time.Hour

// recSched is the real Scheduler, with the calls the source makes to it
// recorded.
type recSched struct {
	*sources.Scheduler

	mu         sync.Mutex
	hints      []hintCall
	reconnects int
}

type hintCall struct {
	id       sources.ResourceID
	additive bool
}

func (r *recSched) Hint(id sources.ResourceID, additive bool) {
	r.mu.Lock()
	r.hints = append(r.hints, hintCall{id, additive})
	r.mu.Unlock()
	r.Scheduler.Hint(id, additive)
}

func (r *recSched) Reconnected(endpoint string) {
	r.mu.Lock()
	r.reconnects++
	r.mu.Unlock()
	r.Scheduler.Reconnected(endpoint)
}

func (r *recSched) Hints() []hintCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hintCall(nil), r.hints...)
}

func (r *recSched) Reconnects() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reconnects
}

// env is a source under test, with a real Scheduler writing to a recording
// sink. Both run until the test ends.
type env struct {
	t     *testing.T
	sink  *sourcetest.Sink
	sched *recSched
	src   *Source
	logs  *sourcetest.LogBuffer
}

func newEnv(t *testing.T, opts Options) *env {
	return newEnvPushOff(t, opts, nil)
}

// newEnvPushOff is newEnv with push turned off for some trigger types
// (--disable-push).
func newEnvPushOff(t *testing.T, opts Options, disablePush map[string]bool) *env {
	t.Helper()
	e := &env{t: t, sink: sourcetest.NewSink(), logs: &sourcetest.LogBuffer{}}
	e.sched = &recSched{Scheduler: sources.NewScheduler(sources.SchedulerOptions{
		Source: "redis", Sink: e.sink, ActiveMinInterval: 10 * time.Millisecond,
	})}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 2 * time.Second
	}
	e.src = New(sources.Deps{
		Name: "redis", Sink: e.sink, Scheduler: e.sched, DisablePush: disablePush,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}, opts)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- e.sched.Start(ctx) }()
	go func() { done <- e.src.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Start = %v", err)
				}
			case <-time.After(sourcetest.WaitTimeout):
				t.Errorf("Start did not return within %s of cancel", sourcetest.WaitTimeout)
			}
		}
		if t.Failed() {
			t.Logf("source log:\n%s", e.logs)
		}
	})
	return e
}

func (e *env) watch(tr sources.Trigger) {
	e.t.Helper()
	if err := e.src.Watch(tr); err != nil {
		e.t.Fatalf("Watch(%v) = %v", tr.Key, err)
	}
}

// awaitPush waits until the last push health reported for k has reason.
func (e *env) awaitPush(k store.Key, reason string) store.Push {
	e.t.Helper()
	return e.sink.AwaitPush(e.t, k, reason)
}

// awaitValue waits until the last value recorded for k satisfies ok.
func (e *env) awaitValue(k store.Key, what string, ok func(float64) bool) float64 {
	e.t.Helper()
	return e.sink.AwaitValueWhere(e.t, k, what, ok)
}

// awaitFailure waits until k has a failure recorded after the last value.
func (e *env) awaitFailure(k store.Key) string {
	e.t.Helper()
	var msg string
	e.sink.Await(e.t, "a failure", func() bool {
		calls := e.sink.Calls()
		for i := len(calls) - 1; i >= 0; i-- {
			c := calls[i]
			if c.Key != k {
				continue
			}
			if c.Op == sourcetest.OpRecord {
				return false
			}
			if c.Op == sourcetest.OpFail {
				msg = c.Err
				return true
			}
		}
		return false
	})
	return msg
}

// trig is a trigger of type typ with md over a few defaults.
func trig(k store.Key, typ string, md, auth map[string]string, poll time.Duration) sources.Trigger {
	m := map[string]string{}
	maps.Copy(m, md)
	return sources.Trigger{Key: k, Type: typ, Metadata: m, AuthParams: auth, PollingInterval: poll}
}
