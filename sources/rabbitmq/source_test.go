package rabbitmq

import (
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/rabbitmq/rabbitmqtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

var key = sourcetest.Key

func newEnv(t *testing.T, disablePush bool, opts Options) *sourcetest.Env[*Source] {
	t.Helper()
	sources.Default(&opts.ReconnectWait, 50*time.Millisecond)
	return sourcetest.NewEnv(t, map[string]bool{Type: disablePush}, func(d sources.Deps) *Source { return New(d, opts) })
}

// trigger is an amqp trigger on s's queue, its credentials in the
// TriggerAuthentication; md adds or, with "-", removes metadata.
func trigger(k store.Key, s *rabbitmqtest.Server, queue string, poll time.Duration, md map[string]string) sources.Trigger {
	m := map[string]string{"host": "amqp://" + s.Addr() + "/", "queueName": queue, "mode": "QueueLength", "value": "5",
		"managementHost": "http://" + s.MgmtAddr()}
	for k, v := range md {
		if v == "-" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return sources.Trigger{Key: k, Type: Type, Metadata: m, PollingInterval: poll,
		AuthParams: map[string]string{"username": rabbitmqtest.User, "password": s.Password()}}
}

// declare creates queue (durable) bound to exchange (direct, created) with
// the routing key when exchange is not empty; the queue is deleted when
// the test ends.
func declare(t *testing.T, s *rabbitmqtest.Server, queue, exchange, routingKey string) {
	t.Helper()
	if err := s.Declare(queue, exchange, routingKey); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Setup(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(queue, false, false, false); return err })
	})
}

func publish(t *testing.T, s *rabbitmqtest.Server, exchange, key string, n int) {
	t.Helper()
	if err := s.Publish(exchange, key, n); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	needBroker(t)
	declare(t, srv, "conformance", "", "")
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d, Options{ReconnectWait: 50 * time.Millisecond}) },
		trigger(key("conf"), srv, "conformance", time.Second, nil))
}

// TestShadowQueueWakes: a publish through an exchange wakes an idle trigger
// at once (the leading edge, then the read), without a poll.
func TestShadowQueueWakes(t *testing.T) {
	needBroker(t)
	declare(t, srv, "wake", "wake-ex", "jobs")
	e := newEnv(t, false, Options{})
	k := key("wake")
	e.Watch(trigger(k, srv, "wake", time.Hour, nil))
	e.Sink.AwaitValue(t, k, 0)
	p := e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscribed)
	if !p.Healthy || !strings.Contains(p.Message, "wake-ex:jobs") {
		t.Errorf("push = %+v", p)
	}
	waitShadowConsumers(t, "wake-ex", 1)
	start := time.Now()
	publish(t, srv, "wake-ex", "jobs", 1)
	e.Sink.AwaitValueWhere(t, k, "value ≥ 1", func(v float64) bool { return v >= 1 })
	t.Logf("publish → value recorded: %s", time.Since(start))
	e.Sink.AwaitValue(t, k, 1) // the read
	// Active: the shadow queue is gone, nothing of the publishes is copied.
	waitShadowConsumers(t, "wake-ex", 0)
	// Consumed: the trigger goes idle on its next read (a poll would take
	// an hour here; the consumer's get is followed by a hint-free read
	// only when asked, so read by re-watching).
	if err := srv.Setup(func(ch *amqp.Channel) error { _, err := ch.QueuePurge("wake", false); return err }); err != nil {
		t.Fatal(err)
	}
	e.Watch(trigger(k, srv, "wake", 50*time.Millisecond, nil))
	e.Sink.AwaitValue(t, k, 0)
	waitShadowConsumers(t, "wake-ex", 1)
	// The application's queue still holds every message it got.
	publish(t, srv, "wake-ex", "jobs", 3)
	e.Sink.AwaitValue(t, k, 3)
}

// waitShadowConsumers waits until exchange has n bindings to gateway-owned
// (server-named) queues.
func waitShadowConsumers(t *testing.T, exchange string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		body, err := srv.API("GET", "/api/exchanges/%2F/"+exchange+"/bindings/source", nil)
		if err == nil && strings.Count(string(body), `"destination":"amq.gen-`) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("exchange %s: want %d shadow queues; bindings: %s (%v)", exchange, n, body, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBindingsFollowed: a binding added to the queue is copied by its
// shadow queue after the next read while idle.
func TestBindingsFollowed(t *testing.T) {
	needBroker(t)
	declare(t, srv, "follow", "follow-a", "k")
	e := newEnv(t, false, Options{BindingsRecheck: time.Millisecond})
	k := key("follow")
	tr := trigger(k, srv, "follow", time.Hour, nil)
	e.Watch(tr)
	e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscribed)
	waitShadowConsumers(t, "follow-a", 1)
	declare(t, srv, "follow", "follow-b", "k")
	c, err := ParseConfig(tr)
	if err != nil {
		t.Fatal(err)
	}
	b := e.Src.binding(tr, c)
	e.Src.Deps.Scheduler.Hint(sources.ResourceID{Endpoint: b.Endpoint, Name: b.Resource}, false) // a read while idle
	waitShadowConsumers(t, "follow-b", 1)
	e.Sink.Await(t, "PushHealthy naming the new binding", func() bool {
		p, _ := e.Sink.Push(k)
		return p.Healthy && strings.Contains(p.Message, "follow-b:k")
	})
	publish(t, srv, "follow-b", "k", 1)
	e.Sink.AwaitValue(t, k, 1)
}

// TestActiveAtWatch: a queue with a backlog when its trigger is watched
// is active at once: PushHealthy says how it would be pushed, no shadow
// queue is taken while it stays active.
func TestActiveAtWatch(t *testing.T) {
	needBroker(t)
	declare(t, srv, "backlog", "backlog-ex", "b")
	publish(t, srv, "backlog-ex", "b", 2)
	e := newEnv(t, false, Options{})
	k := key("backlog")
	e.Watch(trigger(k, srv, "backlog", time.Hour, nil))
	e.Sink.AwaitValue(t, k, 2)
	if p := e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscribed); !strings.Contains(p.Message, "backlog-ex:b") {
		t.Errorf("push = %+v", p)
	}
	time.Sleep(200 * time.Millisecond)
	waitShadowConsumers(t, "backlog-ex", 0)
}

// TestShadowBindingsKey: shadowBindings names the bindings; the management
// API is not asked.
func TestShadowBindingsKey(t *testing.T) {
	needBroker(t)
	declare(t, srv, "named", "named-ex", "k1")
	e := newEnv(t, false, Options{})
	k := key("named")
	e.Watch(trigger(k, srv, "named", time.Hour, map[string]string{"shadowBindings": "named-ex:k1", "managementHost": "http://127.0.0.1:1"}))
	e.Sink.AwaitValue(t, k, 0)
	e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscribed)
	waitShadowConsumers(t, "named-ex", 1)
	publish(t, srv, "named-ex", "k1", 1)
	e.Sink.AwaitValue(t, k, 1)
}

// TestDefaultExchangeIsPolled: a queue bound only to the default exchange
// is polled, PushHealthy=False NotSupported saying why.
func TestDefaultExchangeIsPolled(t *testing.T) {
	needBroker(t)
	declare(t, srv, "plain", "", "")
	e := newEnv(t, false, Options{IdlePollInterval: 200 * time.Millisecond})
	k := key("plain")
	e.Watch(trigger(k, srv, "plain", time.Hour, nil))
	e.Sink.AwaitValue(t, k, 0)
	p := e.Sink.AwaitPush(t, k, v1alpha1.ReasonNotSupported)
	if p.Healthy || !strings.Contains(p.Message, "default") || !strings.Contains(p.Message, "200ms") {
		t.Errorf("push = %+v", p)
	}
	publish(t, srv, "", "plain", 2)
	e.Sink.AwaitValue(t, k, 2) // by the idle poll, 200 ms, not the hour
}

// TestMissingQueueIsolated: a trigger on a missing queue fails, naming it,
// while another trigger on the same connection is read and pushed.
func TestMissingQueueIsolated(t *testing.T) {
	needBroker(t)
	declare(t, srv, "present", "present-ex", "p")
	e := newEnv(t, false, Options{})
	good, bad := key("good"), key("bad")
	e.Watch(trigger(bad, srv, "absent", 100*time.Millisecond, nil))
	e.Watch(trigger(good, srv, "present", 300*time.Millisecond, nil)) // active: read every pollingInterval
	e.Sink.Await(t, "failure of the missing queue", func() bool {
		for _, c := range e.Sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Key == bad && strings.Contains(c.Err, `queueName "absent": not found in vhost "/"`) {
				return true
			}
		}
		return false
	})
	e.Sink.AwaitValue(t, good, 0)
	e.Sink.AwaitPush(t, good, v1alpha1.ReasonSubscribed)
	time.Sleep(300 * time.Millisecond) // several failing reads of the other
	publish(t, srv, "present-ex", "p", 2)
	e.Sink.AwaitValue(t, good, 2)
	declare(t, srv, "absent", "", "")
	e.Sink.AwaitValue(t, bad, 0)
}

// TestRefusedCredentials: a wrong password fails every read naming the
// credentials, never showing them; PushHealthy=False PermissionDenied.
func TestRefusedCredentials(t *testing.T) {
	needBroker(t)
	e := newEnv(t, false, Options{})
	k := key("refused")
	tr := trigger(k, srv, "whatever", 100*time.Millisecond, nil)
	tr.AuthParams["password"] = "wrong-s3cret-password"
	e.Watch(tr)
	p := e.Sink.AwaitPush(t, k, v1alpha1.ReasonPermissionDenied)
	e.Sink.Await(t, "a failure", func() bool {
		for _, c := range e.Sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Key == k {
				if !strings.Contains(c.Err, "username and password") {
					t.Errorf("error = %s", c.Err)
				}
				return true
			}
		}
		return false
	})
	for _, c := range e.Sink.Calls() {
		if strings.Contains(c.Err+c.Push.Message, "wrong-s3cret-password") {
			t.Errorf("secret shown: %v", c)
		}
	}
	if strings.Contains(p.Message+e.Logs.String(), "wrong-s3cret-password") {
		t.Errorf("secret in push or logs")
	}
}

// TestMissingVhost: an unknown vhostName fails naming it.
func TestMissingVhost(t *testing.T) {
	needBroker(t)
	e := newEnv(t, false, Options{})
	k := key("vhost")
	e.Watch(trigger(k, srv, "q", 100*time.Millisecond, map[string]string{"vhostName": "nope"}))
	e.Sink.Await(t, "a failure naming the vhost", func() bool {
		for _, c := range e.Sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Key == k && strings.Contains(c.Err, `vhostName "nope"`) {
				return true
			}
		}
		return false
	})
}

// TestUnreachableBroker: a broker that is not there fails naming the host.
func TestUnreachableBroker(t *testing.T) {
	needBroker(t)
	e := newEnv(t, false, Options{Timeout: 500 * time.Millisecond})
	k := key("down")
	tr := trigger(k, srv, "q", 100*time.Millisecond, map[string]string{"host": "amqp://u:hostS3cret@127.0.0.1:1/"})
	tr.AuthParams = nil
	e.Watch(tr)
	e.Sink.Await(t, "a failure naming the host", func() bool {
		for _, c := range e.Sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Key == k {
				if strings.Contains(c.Err, "hostS3cret") {
					t.Errorf("error shows the password: %s", c.Err)
				}
				return strings.Contains(c.Err, "host 127.0.0.1:1")
			}
		}
		return false
	})
	e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscriptionLost)
}

// TestDisablePush: --disable-push rabbitmq polls, DisabledByConfig, and
// takes no shadow queue.
func TestDisablePush(t *testing.T) {
	needBroker(t)
	declare(t, srv, "off", "off-ex", "o")
	e := newEnv(t, true, Options{})
	k := key("off")
	e.Watch(trigger(k, srv, "off", 100*time.Millisecond, nil))
	e.Sink.AwaitPush(t, k, v1alpha1.ReasonDisabledByConfig)
	publish(t, srv, "off-ex", "o", 1)
	e.Sink.AwaitValue(t, k, 1)
	waitShadowConsumers(t, "off-ex", 0)
}

// TestHTTPModes reads the management API as KEDA's http protocol does.
func TestHTTPModes(t *testing.T) {
	needBroker(t)
	declare(t, srv, "api-q1", "", "")
	declare(t, srv, "api-q2", "", "")
	publish(t, srv, "", "api-q1", 3)
	publish(t, srv, "", "api-q2", 1)
	e := newEnv(t, false, Options{})
	base := "http://" + rabbitmqtest.User + ":" + srv.Password() + "@" + srv.MgmtAddr() + "/"
	length, regex, rate := key("length"), key("regex"), key("rate")
	e.Watch(sources.Trigger{Key: length, Type: Type, PollingInterval: 200 * time.Millisecond,
		Metadata: map[string]string{"host": base, "queueName": "api-q1"}})
	e.Watch(sources.Trigger{Key: regex, Type: Type, PollingInterval: 200 * time.Millisecond,
		Metadata: map[string]string{"host": base, "queueName": "^api-q.$", "useRegex": "true", "operation": "max"}})
	e.Watch(sources.Trigger{Key: rate, Type: Type, PollingInterval: 200 * time.Millisecond,
		Metadata: map[string]string{"host": base, "queueName": "api-q1", "mode": "MessageRate", "value": "10"}})
	// Management statistics lag (collect_statistics_interval 1 s here).
	e.Sink.AwaitValue(t, length, 3)
	e.Sink.AwaitValue(t, regex, 3)
	p := e.Sink.AwaitPush(t, length, v1alpha1.ReasonNotSupported)
	if !strings.Contains(p.Message, "protocol http") {
		t.Errorf("push = %+v", p)
	}
	// MessageRate is active on the backlog too (3 > activationValue 0),
	// whatever the rate, as in KEDA.
	e.Sink.Await(t, "a rate read decided active", func() bool {
		c, ok := e.Sink.Last(rate)
		return ok && c.Active != nil && *c.Active
	})
	missing := key("missing")
	e.Watch(sources.Trigger{Key: missing, Type: Type, PollingInterval: 200 * time.Millisecond,
		Metadata:   map[string]string{"host": "http://" + srv.MgmtAddr() + "/nope", "queueName": "api-q1"},
		AuthParams: map[string]string{"username": rabbitmqtest.User, "password": srv.Password()}})
	e.Sink.Await(t, "a failure naming the vhost", func() bool {
		for _, c := range e.Sink.Calls() {
			if c.Op == sourcetest.OpFail && c.Key == missing {
				return strings.Contains(c.Err, `vhostName "nope": not found`)
			}
		}
		return false
	})
	for _, c := range e.Sink.Calls() {
		if strings.Contains(c.Err, srv.Password()) {
			t.Errorf("password shown: %s", c.Err)
		}
	}
}

// TestReconnectAfterRestart: a broker restart is followed by a reconnect,
// a read, and a shadow queue again; a publish after it still wakes.
func TestReconnectAfterRestart(t *testing.T) {
	own := rabbitmqtest.Start(t)
	declare(t, own, "durable", "durable-ex", "d")
	e := newEnv(t, false, Options{})
	k := key("restart")
	e.Watch(trigger(k, own, "durable", time.Hour, nil))
	e.Sink.AwaitValue(t, k, 0)
	e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscribed)
	own.Stop()
	e.Sink.AwaitPush(t, k, v1alpha1.ReasonSubscriptionLost)
	if err := own.Restart(); err != nil {
		t.Fatal(err)
	}
	// The reconnect backoff may have grown to seconds while the broker was
	// down.
	deadline := time.Now().Add(40 * time.Second)
	for p, _ := e.Sink.Push(k); p.Reason != v1alpha1.ReasonSubscribed; p, _ = e.Sink.Push(k) {
		if time.Now().After(deadline) {
			t.Fatalf("not subscribed again after the restart: %+v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	publish(t, own, "durable-ex", "d", 1)
	e.Sink.AwaitValue(t, k, 1)
}
