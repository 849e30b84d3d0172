package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/kafka/kafkatest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

const (
	testUser     = "scaler"
	testPassword = "kafka-pa55word"
)

var (
	keyA = store.Key{Owner: store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "a", UID: "uid-a"}}
	keyB = store.Key{Owner: store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "b", UID: "uid-b"}}
)

// idle is a pollingInterval no test waits for: only pushes and the reads
// they cause move values.
const idle = time.Hour

func kafkaTrigger(k store.Key, addr string, md map[string]string, poll time.Duration) sources.Trigger {
	m := map[string]string{"bootstrapServers": addr, "consumerGroup": "g", "topic": "orders", "lagThreshold": "5"}
	for key, v := range md {
		if v == "-" {
			delete(m, key)
			continue
		}
		m[key] = v
	}
	return sources.Trigger{Key: k, Type: Type, Metadata: m, PollingInterval: poll}
}

func TestConformance(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}, User: testUser, Password: testPassword})
	tr := kafkaTrigger(keyA, c.Addr(), map[string]string{"activationLagThreshold": "1", "offsetResetPolicy": "earliest", "sasl": "scram_sha256"}, time.Second)
	tr.AuthParams = map[string]string{"username": testUser, "password": testPassword}
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source {
		return New(d, Options{DialTimeout: time.Second})
	}, tr)
}

// env is a source on a recording sink with a running Scheduler.
type env struct {
	t    *testing.T
	sink *sourcetest.Sink
	src  *Source
}

func newEnv(t *testing.T, o Options, disable ...string) *env {
	sink := sourcetest.NewSink()
	d := sourcetest.NewDeps(t, sink)
	d.DisablePush = map[string]bool{}
	for _, typ := range disable {
		d.DisablePush[typ] = true
	}
	src := New(d, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return &env{t: t, sink: sink, src: src}
}

func (e *env) watch(tr sources.Trigger) {
	e.t.Helper()
	if err := e.src.Watch(tr); err != nil {
		e.t.Fatal(err)
	}
}

// awaitValue waits until the last value recorded for k satisfies ok.
func (e *env) awaitValue(k store.Key, what string, ok func(float64) bool) float64 {
	e.t.Helper()
	return e.sink.AwaitValueWhere(e.t, k, what, ok)
}

// awaitPush waits until the last push health reported for k has reason.
func (e *env) awaitPush(k store.Key, reason string) store.Push {
	e.t.Helper()
	return e.sink.AwaitPush(e.t, k, reason)
}

// TestLagAndPush: lag is log-end − committed, read at once; a record on
// an idle trigger's partition is pushed (no polling within the test), and
// a commit is seen at the next read.
func TestLagAndPush(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}, Partitions: 3})
	e := newEnv(t, Options{})
	c.Produce("orders", 0, 4)
	c.Commit("g", "orders", 0, 4)
	c.Commit("g", "orders", 1, 0)
	c.Commit("g", "orders", 2, 0)
	// Idle and push-healthy, it is not polled; active, every second.
	e.watch(kafkaTrigger(keyA, c.Addr(), nil, time.Second))
	e.awaitValue(keyA, "0: all committed", func(v float64) bool { return v == 0 })
	p := e.awaitPush(keyA, ReasonSubscribed)
	if !p.Healthy {
		t.Fatalf("push %+v", p)
	}

	start := time.Now()
	c.Produce("orders", 1, 1)
	e.awaitValue(keyA, "a value > 0 after a record", func(v float64) bool { return v > 0 })
	t.Logf("produce → value > 0 in %s", time.Since(start))
	e.awaitValue(keyA, "1 after the read", func(v float64) bool { return v == 1 })

	// Active: its partitions are paused and it is polled; the backlog is
	// capped at 3 partitions × 5.
	c.Produce("orders", 2, 30)
	e.awaitValue(keyA, "capped at 15", func(v float64) bool { return v == 15 })
	// Consumed: idle again, and pushed again.
	c.Commit("g", "orders", 1, 1)
	c.Commit("g", "orders", 2, 30)
	e.awaitValue(keyA, "0 once committed", func(v float64) bool { return v == 0 })
	time.Sleep(200 * time.Millisecond) // the loop resumes the partitions
	start = time.Now()
	c.Produce("orders", 2, 1)
	e.awaitValue(keyA, "a value > 0 after a record", func(v float64) bool { return v > 0 })
	t.Logf("after resume: produce → value > 0 in %s", time.Since(start))
}

// TestAllTopicsOfTheGroup: with no topic, every topic the group has
// committed counts, and a topic it starts committing is picked up at the
// next read.
func TestAllTopicsOfTheGroup(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"a", "b"}})
	c.Produce("a", 0, 3)
	c.Produce("b", 0, 5)
	c.Commit("grp", "a", 0, 1)
	e := newEnv(t, Options{})
	e.watch(kafkaTrigger(keyA, c.Addr(), map[string]string{"topic": "-", "consumerGroup": "grp", "allowIdleConsumers": "true"}, time.Second))
	e.awaitValue(keyA, "2 from topic a", func(v float64) bool { return v == 2 })
	c.Commit("grp", "b", 0, 1)
	c.Produce("a", 0, 1)
	e.awaitValue(keyA, "3 from a + 4 from b", func(v float64) bool { return v == 7 })
}

// TestNoCommitRules: a group with no committed offset counts 1 (latest),
// the log-end offset (earliest), or 0 (scaleToZeroOnInvalidOffset).
func TestNoCommitRules(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}})
	c.Produce("orders", 0, 7)
	e := newEnv(t, Options{})
	e.watch(kafkaTrigger(keyA, c.Addr(), map[string]string{"allowIdleConsumers": "true"}, idle))
	e.watch(kafkaTrigger(keyB, c.Addr(), map[string]string{"allowIdleConsumers": "true", "offsetResetPolicy": "earliest"}, idle))
	kc := keyA
	kc.Trigger = 2
	e.watch(kafkaTrigger(kc, c.Addr(), map[string]string{"scaleToZeroOnInvalidOffset": "true"}, idle))
	e.awaitValue(keyA, "1 under latest", func(v float64) bool { return v == 1 })
	e.awaitValue(keyB, "7 under earliest", func(v float64) bool { return v == 7 })
	e.awaitValue(kc, "0 with scaleToZeroOnInvalidOffset", func(v float64) bool { return v == 0 })
}

// TestOutage: a cluster that stops answering is SubscriptionLost; what
// lands meanwhile is read after the reconnect.
func TestOutage(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}})
	c.Commit("g", "orders", 0, 0)
	e := newEnv(t, Options{DialTimeout: time.Second})
	e.watch(kafkaTrigger(keyA, c.Addr(), nil, time.Second))
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })
	e.awaitPush(keyA, ReasonSubscribed)
	c.Client() // connected before the outage, so it can produce during it
	c.Produce("orders", 0, 1)
	e.awaitValue(keyA, "1", func(v float64) bool { return v == 1 })
	c.Commit("g", "orders", 0, 1)
	c.Produce("orders", 0, 1)
	e.awaitValue(keyA, "1 again after a commit and a record", func(v float64) bool { return v == 1 })
	c.Commit("g", "orders", 0, 2)
	e.awaitValue(keyA, "0: idle, fetching again", func(v float64) bool { return v == 0 })
	time.Sleep(200 * time.Millisecond)

	c.SetDown(true)
	p := e.awaitPush(keyA, ReasonSubscriptionLost)
	if p.Healthy || strings.Contains(p.Message, testPassword) {
		t.Fatalf("push %+v", p)
	}
	c.Produce("orders", 0, 3)
	c.SetDown(false)
	e.awaitPush(keyA, ReasonSubscribed)
	e.awaitValue(keyA, "3 after the reconnect", func(v float64) bool { return v == 3 })
}

// TestWrongPassword: refused credentials fail the read with an error
// naming sasl, username and password, never the password.
func TestWrongPassword(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}, User: testUser, Password: testPassword})
	e := newEnv(t, Options{DialTimeout: time.Second})
	const wrong = "wr0ng-passw0rd-value"
	tr := kafkaTrigger(keyA, c.Addr(), nil, time.Second)
	tr.AuthParams = map[string]string{"sasl": "scram_sha256", "username": testUser, "password": wrong}
	e.watch(tr)
	var msg string
	e.sink.Await(t, "a failed read", func() bool {
		for _, call := range e.sink.Calls() {
			if call.Op == sourcetest.OpFail {
				msg = call.Err
				return true
			}
		}
		return false
	})
	if !strings.Contains(msg, "password") || strings.Contains(msg, wrong) {
		t.Errorf("error %q: want one naming the password, without it", msg)
	}
	for _, call := range e.sink.Calls() {
		if strings.Contains(call.String(), wrong) || strings.Contains(call.Push.Message, wrong) {
			t.Errorf("sink call shows the password: %v", call)
		}
	}
}

// TestUnreachable: a cluster nobody listens on fails the read naming
// bootstrapServers.
func TestUnreachable(t *testing.T) {
	e := newEnv(t, Options{DialTimeout: 200 * time.Millisecond})
	e.watch(kafkaTrigger(keyA, "127.0.0.1:1", nil, time.Second))
	var msg string
	e.sink.Await(t, "a failed read", func() bool {
		for _, call := range e.sink.Calls() {
			if call.Op == sourcetest.OpFail {
				msg = call.Err
				return true
			}
		}
		return false
	})
	if !strings.HasPrefix(msg, `kafka: bootstrapServers "127.0.0.1:1": unreachable`) {
		t.Errorf("error %q", msg)
	}
}

// TestMissingTopic: a topic that does not exist fails the read naming it;
// once created, it is found (by the poll, or the partition check).
func TestMissingTopic(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{})
	e := newEnv(t, Options{MetadataInterval: 100 * time.Millisecond})
	e.watch(kafkaTrigger(keyA, c.Addr(), map[string]string{"topic": "later"}, idle))
	e.sink.Await(t, "a failed read", func() bool {
		for _, call := range e.sink.Calls() {
			if call.Op == sourcetest.OpFail && call.Err == `kafka: topic "later": does not exist` {
				return true
			}
		}
		return false
	})
	c.CreateTopic("later", 2)
	c.Produce("later", 1, 2)
	e.awaitValue(keyA, "1 (no commit, latest) once the topic exists", func(v float64) bool { return v == 2 })
}

// TestAddedPartitions: partitions added to a watched topic are found by the
// partition check and then pushed like the others.
func TestAddedPartitions(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}})
	c.Commit("g", "orders", 0, 0)
	e := newEnv(t, Options{MetadataInterval: 200 * time.Millisecond})
	e.watch(kafkaTrigger(keyA, c.Addr(), map[string]string{"scaleToZeroOnInvalidOffset": "true"}, idle))
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })
	e.awaitPush(keyA, ReasonSubscribed)
	c.AddPartitions("orders", 1)
	c.Commit("g", "orders", 1, 0)
	time.Sleep(time.Second) // the check runs and the read that follows
	c.Produce("orders", 1, 1)
	e.awaitValue(keyA, "1 from the new partition", func(v float64) bool { return v == 1 })
}

// TestDisablePush: --disable-push kafka reports DisabledByConfig.
func TestDisablePush(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}})
	e := newEnv(t, Options{}, Type)
	e.watch(kafkaTrigger(keyA, c.Addr(), nil, time.Second))
	if p := e.awaitPush(keyA, ReasonDisabledByConfig); p.Healthy {
		t.Fatalf("push %+v", p)
	}
	e.awaitValue(keyA, "1 (no commit)", func(v float64) bool { return v == 1 })
}

// TestSharing: triggers on one cluster with one credential share an
// endpoint; identical reads share a resource.
func TestSharing(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}})
	e := newEnv(t, Options{})
	a := kafkaTrigger(keyA, c.Addr(), nil, idle)
	b := kafkaTrigger(keyB, c.Addr(), nil, idle)
	if e.src.endpointID(mustConfig(t, a)) != e.src.endpointID(mustConfig(t, b)) {
		t.Fatal("two triggers on one cluster have different endpoints")
	}
	if resourceName(mustConfig(t, a)) != resourceName(mustConfig(t, b)) {
		t.Fatal("identical reads have different resources")
	}
	b.Metadata["activationLagThreshold"] = "3"
	if resourceName(mustConfig(t, a)) == resourceName(mustConfig(t, b)) {
		t.Fatal("reads with different activation thresholds share a resource")
	}
	a.AuthParams = map[string]string{"sasl": "plaintext", "username": "u", "password": testPassword}
	if id := e.src.endpointID(mustConfig(t, a)); strings.Contains(id, testPassword) {
		t.Fatalf("endpoint id %q shows the password", id)
	}
}

func mustConfig(t *testing.T, tr sources.Trigger) Config {
	t.Helper()
	c, err := ParseConfig(tr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPartitionErrorIsNoReconnect: a watched topic deleted makes the
// fetches answer a partition error; that is the reads' to report for its
// trigger, not a lost push path. Taken as one, every later answer was a
// "reconnect" reading every resource of the endpoint, as often as fetches
// return (316 requests/s with 1,000 idle triggers).
func TestPartitionErrorIsNoReconnect(t *testing.T) {
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders", "gone"}})
	c.Commit("g", "orders", 0, 0)
	c.Commit("g2", "gone", 0, 0)
	e := newEnv(t, Options{FetchMaxWait: 100 * time.Millisecond})
	e.watch(kafkaTrigger(keyA, c.Addr(), map[string]string{"scaleToZeroOnInvalidOffset": "true"}, idle))
	e.watch(kafkaTrigger(keyB, c.Addr(), map[string]string{"topic": "gone", "consumerGroup": "g2", "scaleToZeroOnInvalidOffset": "true"}, idle))
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })
	e.awaitValue(keyB, "0", func(v float64) bool { return v == 0 })
	e.awaitPush(keyA, ReasonSubscribed)
	if _, err := kadm.NewClient(c.Client()).DeleteTopics(t.Context(), "gone"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // the deletion reaches the fetches
	_, before := c.Requests()
	time.Sleep(2 * time.Second) // about 20 fetch answers
	_, after := c.Requests()
	if n := after["OffsetFetch"] - before["OffsetFetch"]; n > 2 {
		t.Errorf("%d OffsetFetch requests in 2 s of idle triggers (reads after every fetch answer)", n)
	}
}
