package natsjetstream

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/natsjetstream/natstest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

const testToken = "tok-s3cret-value"

var key = sourcetest.Key

// env is a source under test with a real Scheduler writing to a recording
// sink; both run until the test ends.
type env struct {
	t    *testing.T
	sink *sourcetest.Sink
	src  *Source
	logs *sourcetest.LogBuffer
}

func newEnv(t *testing.T, disablePush bool) *env {
	t.Helper()
	e := &env{t: t, sink: sourcetest.NewSink(), logs: &sourcetest.LogBuffer{}}
	sched := sources.NewScheduler(sources.SchedulerOptions{Source: Type, Sink: e.sink, ActiveMinInterval: 10 * time.Millisecond})
	d := sources.Deps{Name: Type, Sink: e.sink, Scheduler: sched,
		Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if disablePush {
		d.DisablePush = map[string]bool{Type: true}
	}
	e.src = New(d, Options{Timeout: 2 * time.Second, ReconnectWait: 50 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- sched.Start(ctx) }()
	go func() { done <- e.src.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("Start = %v", err)
			}
		}
		if t.Failed() {
			t.Logf("source log:\n%s", e.logs)
		}
	})
	return e
}

func pushTrigger(k store.Key, srv *natstest.Server, poll time.Duration, md map[string]string) sources.Trigger {
	m := map[string]string{"natsServerMonitoringEndpoint": srv.MonitoringEndpoint(), "account": "$G", "stream": "jobs", "consumer": "workers",
		"natsClientURL": srv.ClientURL(), "lagThreshold": "5"}
	for k, v := range md {
		if v == "-" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return sources.Trigger{Key: k, Type: Type, Metadata: m, AuthParams: map[string]string{"clientToken": testToken}, PollingInterval: poll}
}

func (e *env) watch(tr sources.Trigger) {
	e.t.Helper()
	if err := e.src.Watch(tr); err != nil {
		e.t.Fatalf("Watch = %v", err)
	}
}

func (e *env) awaitPush(k store.Key, reason string) {
	e.t.Helper()
	e.sink.AwaitPush(e.t, k, reason)
}

func (e *env) awaitFail(k store.Key, contains string) string {
	e.t.Helper()
	var msg string
	e.sink.Await(e.t, "a failure with "+contains, func() bool {
		for _, c := range e.sink.Calls() {
			if c.Key == k && c.Op == sourcetest.OpFail && strings.Contains(c.Err, contains) {
				msg = c.Err
				return true
			}
		}
		return false
	})
	return msg
}

func newServer(t *testing.T) *natstest.Server {
	srv := natstest.Start(t, natstest.Options{Token: testToken})
	if err := srv.CreateStream(t.Context(), "jobs", "workers", "jobs.>"); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestConformance(t *testing.T) {
	srv := newServer(t)
	tr := pushTrigger(key("a"), srv, time.Second, nil)
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d, Options{Timeout: time.Second}) }, tr)
}

// TestPushWakesAtOnce: an idle trigger (pollingInterval an hour) learns of a
// publish through its stream's ordered consumer, and of the backlog through
// the read that follows.
func TestPushWakesAtOnce(t *testing.T) {
	srv := newServer(t)
	e := newEnv(t, false)
	k := key("a")
	e.watch(pushTrigger(k, srv, time.Hour, nil))
	e.sink.AwaitValue(t, k, 0)
	e.awaitPush(k, ReasonSubscribed)

	if err := srv.Publish(t.Context(), "jobs.a", 1); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 1)
	if err := srv.Publish(t.Context(), "jobs.b", 6); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 7)
}

// TestAcksReadWhileActive: consumption is not pushed; an active trigger is
// read every pollingInterval, so acks bring it back to 0.
func TestAcksReadWhileActive(t *testing.T) {
	srv := newServer(t)
	e := newEnv(t, false)
	k := key("a")
	e.watch(pushTrigger(k, srv, 100*time.Millisecond, nil))
	e.awaitPush(k, ReasonSubscribed)
	if err := srv.Publish(t.Context(), "jobs.a", 3); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 3)
	if err := srv.Consume(t.Context(), "jobs", "workers", 3); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 0)
}

// TestFilteredConsumerIsNotWokenByOtherSubjects: a message outside the
// durable consumer's filter is a hint, never a leading-edge activation.
func TestFilteredConsumerIsNotWokenByOtherSubjects(t *testing.T) {
	srv := newServer(t)
	js, err := srv.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(t.Context(), "jobs", jetstreamFiltered("only-a", "jobs.a")); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, false)
	k := key("a")
	e.watch(pushTrigger(k, srv, time.Hour, map[string]string{"consumer": "only-a"}))
	e.sink.AwaitValue(t, k, 0)
	e.awaitPush(k, ReasonSubscribed)
	if err := srv.Publish(t.Context(), "jobs.b", 1); err != nil {
		t.Fatal(err)
	}
	// The hint's read records 0 again; a leading edge would record 1
	// before it.
	before := len(e.sink.Records(k))
	e.sink.Await(t, "the read after the hint", func() bool { return len(e.sink.Records(k)) > before })
	for _, v := range e.sink.Records(k) {
		if v != 0 {
			t.Fatalf("recorded %v for a message the consumer does not see", e.sink.Records(k))
		}
	}
	if err := srv.Publish(t.Context(), "jobs.a", 1); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 1)
}

// TestPollingWithoutClientURL: without natsClientURL the trigger is read from
// the monitoring endpoint, as KEDA does, and says so.
func TestPollingWithoutClientURL(t *testing.T) {
	srv := newServer(t)
	e := newEnv(t, false)
	k := key("a")
	tr := pushTrigger(k, srv, 100*time.Millisecond, map[string]string{"natsClientURL": "-"})
	tr.AuthParams = nil
	e.watch(tr)
	e.awaitPush(k, ReasonNotSupported)
	e.sink.AwaitValue(t, k, 0)
	if err := srv.Publish(t.Context(), "jobs.a", 2); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 2)

	missing := key("m")
	tr = pushTrigger(missing, srv, 100*time.Millisecond, map[string]string{"natsClientURL": "-", "consumer": "nobody"})
	tr.AuthParams = nil
	e.watch(tr)
	e.awaitFail(missing, `consumer "nobody" not found in stream "jobs"`)
}

func TestDisablePush(t *testing.T) {
	srv := newServer(t)
	e := newEnv(t, true)
	k := key("a")
	e.watch(pushTrigger(k, srv, 100*time.Millisecond, nil))
	e.awaitPush(k, ReasonDisabledByConfig)
	if err := srv.Publish(t.Context(), "jobs.a", 2); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 2)
}

func TestRefusedCredentials(t *testing.T) {
	srv := newServer(t)
	e := newEnv(t, false)
	k := key("a")
	tr := pushTrigger(k, srv, 100*time.Millisecond, nil)
	tr.AuthParams = map[string]string{"clientToken": "wrong-s3cret-token"}
	e.watch(tr)
	e.awaitPush(k, ReasonPermissionDenied)
	msg := e.awaitFail(k, "natsClientURL")
	if strings.Contains(msg, "wrong-s3cret-token") || strings.Contains(e.logs.String(), "wrong-s3cret-token") {
		t.Errorf("the token shows: %s", msg)
	}
}

func TestMissingStreamThenCreated(t *testing.T) {
	srv := natstest.Start(t, natstest.Options{Token: testToken})
	e := newEnv(t, false)
	k := key("a")
	e.watch(pushTrigger(k, srv, time.Hour, nil))
	e.awaitFail(k, `stream "jobs" not found`)
	e.awaitPush(k, ReasonSubscriptionLost)
	if err := srv.CreateStream(t.Context(), "jobs", "workers", "jobs.>"); err != nil {
		t.Fatal(err)
	}
	e.awaitPush(k, ReasonSubscribed)
	e.sink.AwaitValue(t, k, 0)
	if err := srv.Publish(t.Context(), "jobs.a", 2); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 2)

	// Deleted and created again: sequences restart, and new messages are
	// still pushed.
	js, err := srv.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteStream(t.Context(), "jobs"); err != nil {
		t.Fatal(err)
	}
	e.awaitFail(k, `stream "jobs" not found`)
	if err := srv.CreateStream(t.Context(), "jobs", "workers", "jobs.>"); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 0)
	e.awaitPush(k, ReasonSubscribed)
	if err := srv.Publish(t.Context(), "jobs.a", 1); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 1)
}

func TestServerRestart(t *testing.T) {
	srv := newServer(t)
	e := newEnv(t, false)
	k := key("a")
	e.watch(pushTrigger(k, srv, time.Hour, nil))
	e.awaitPush(k, ReasonSubscribed)
	e.sink.AwaitValue(t, k, 0)
	srv.Stop()
	e.awaitPush(k, ReasonSubscriptionLost)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Publish(t.Context(), "jobs.a", 2); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 2)
	e.awaitPush(k, ReasonSubscribed)
	if err := srv.Publish(t.Context(), "jobs.a", 1); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitValue(t, k, 3)
}

func jetstreamFiltered(name, filter string) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{Durable: name, AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: filter}
}
