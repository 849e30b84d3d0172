package redis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/redis/redistest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

func TestConformance(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: testPassword})
	for _, typ := range []string{TypeRedis, TypeRedisStreams} {
		t.Run(typ, func(t *testing.T) {
			md := map[string]string{"address": srv.Addr(), "listName": "jobs", "listLength": "3", "activationListLength": "1",
				"databaseIndex": "0", "enableTLS": "false", "unsafeSsl": "false", "passwordFromEnv": "REDIS_PASSWORD"}
			if typ == TypeRedisStreams {
				md = map[string]string{"address": srv.Addr(), "stream": "orders", "consumerGroup": "g", "pendingEntriesCount": "4",
					"activationLagCount": "1", "passwordFromEnv": "REDIS_PASSWORD"}
			}
			tr := sources.Trigger{Key: keyA, Type: typ, Metadata: md, PollingInterval: time.Second,
				AuthParams:  map[string]string{"password": testPassword, "username": "default"},
				ResolvedEnv: map[string]string{"REDIS_PASSWORD": testPassword}}
			sourcetest.Conformance(t, func(d sources.Deps) sources.Source {
				return New(d, Options{DialTimeout: time.Second})
			}, tr)
		})
	}
}

// TestListPush is KEDA's getting-started example: a Redis list's length
// drives a target, the password from a TriggerAuthentication.
func TestListPush(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KEA", Password: testPassword})
	rdb := srv.Client()
	ctx := t.Context()
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs", "listLength": "5"},
		map[string]string{"password": testPassword}, idle))

	e.awaitValue(keyA, "0 for the empty list", func(v float64) bool { return v == 0 })
	p := e.awaitPush(keyA, ReasonSubscribed)
	if !p.Healthy || !strings.Contains(p.Message, "__keyspace@0__:jobs") {
		t.Errorf("push = %+v", p)
	}

	start := time.Now()
	if err := rdb.LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	e.awaitValue(keyA, "a value > 0 after LPUSH", func(v float64) bool { return v > 0 })
	t.Logf("LPUSH → value > 0 in %s", time.Since(start))
	if !hinted(e.sched.Hints(), "list \"jobs\"", true) {
		t.Errorf("no additive hint for LPUSH: %v", e.sched.Hints())
	}

	rdb.RPush(ctx, "jobs", "b", "c")
	e.awaitValue(keyA, "3 after RPUSH", func(v float64) bool { return v == 3 })
	rdb.LPop(ctx, "jobs")
	e.awaitValue(keyA, "2 after LPOP", func(v float64) bool { return v == 2 })
	rdb.Del(ctx, "jobs")
	e.awaitValue(keyA, "0 after DEL", func(v float64) bool { return v == 0 })
	rdb.RPush(ctx, "jobs", "x")
	e.awaitValue(keyA, "1 after RPUSH", func(v float64) bool { return v == 1 })
	rdb.LPop(ctx, "jobs")
	e.awaitValue(keyA, "0 after the last LPOP", func(v float64) bool { return v == 0 })

	// LMOVE notifies the destination with a push, the source with a pop.
	rdb.RPush(ctx, "staging", "m")
	rdb.LMove(ctx, "staging", "jobs", "LEFT", "RIGHT")
	e.awaitValue(keyA, "1 after LMOVE into the list", func(v float64) bool { return v == 1 })
}

func hinted(hints []hintCall, name string, additive bool) bool {
	for _, h := range hints {
		if h.id.Name == name && h.additive == additive {
			return true
		}
	}
	return false
}

func TestFanOutAndCounts(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	rdb := srv.Client()
	ctx := t.Context()
	e := newEnv(t, Options{})
	md := map[string]string{"address": srv.Addr(), "listName": "work"}
	e.watch(trig(keyA, TypeRedis, md, nil, idle))
	e.watch(trig(keyB, TypeRedis, md, nil, idle))
	for i := range 20 { // many lists on the endpoint share its connections
		k := key(store.ScaledObject, "many", "so", i)
		e.watch(trig(k, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "l" + string(rune('a'+i))}, nil, idle))
	}
	e.awaitPush(keyA, ReasonSubscribed)
	e.awaitPush(keyB, ReasonSubscribed)

	// Sets, sorted sets and hashes are counted too, as KEDA's script does.
	rdb.SAdd(ctx, "work", "a", "b", "c")
	for _, k := range []store.Key{keyA, keyB} {
		e.awaitValue(k, "SCARD 3", func(v float64) bool { return v == 3 })
	}
	rdb.Del(ctx, "work")
	e.awaitValue(keyA, "0 after DEL", func(v float64) bool { return v == 0 })
	rdb.ZAdd(ctx, "work", redis.Z{Score: 1, Member: "a"}, redis.Z{Score: 2, Member: "b"})
	e.awaitValue(keyA, "ZCARD 2", func(v float64) bool { return v == 2 })
	rdb.Del(ctx, "work")
	rdb.HSet(ctx, "work", "f1", "1", "f2", "2", "f3", "3", "f4", "4")
	e.awaitValue(keyA, "HLEN 4", func(v float64) bool { return v == 4 })

	// A string cannot be counted: a read error, as with KEDA's script.
	rdb.Del(ctx, "work")
	rdb.Set(ctx, "work", "x", 0)
	if msg := e.awaitFailure(keyA); !strings.Contains(msg, "the key is a string") {
		t.Errorf("failure %q", msg)
	}

	clients := ourClients(t, srv)
	if clients > 2 {
		t.Errorf("%d connections for one endpoint with 22 triggers, want ≤ 2", clients)
	}

	// Idle, the endpoint sends nothing (a PING every 30 s, a CONFIG GET
	// every minute).
	rdb.Del(ctx, "work")
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })
	before := commandsProcessed(t, srv)
	time.Sleep(time.Second) // measuring a rate over a fixed span, not waiting for a condition
	if n := commandsProcessed(t, srv) - before - 1; n > 0 {
		t.Errorf("%d commands in an idle second with 22 triggers, want 0", n)
	}
}

// commandsProcessed is the server's total_commands_processed (the INFO
// asking for it included).
func commandsProcessed(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	info, err := srv.Client().Info(t.Context(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatal("no total_commands_processed in INFO stats")
	return 0
}

func TestUnwatchUnsubscribes(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	rdb := srv.Client()
	ctx := t.Context()
	e := newEnv(t, Options{})
	md := map[string]string{"address": srv.Addr(), "listName": "q"}
	e.watch(trig(keyA, TypeRedis, md, nil, idle))
	e.watch(trig(keyB, TypeRedis, md, nil, idle))
	e.awaitPush(keyB, ReasonSubscribed)
	numsub := func() int64 {
		m, err := rdb.PubSubNumSub(ctx, "__keyspace@0__:q").Result()
		if err != nil {
			t.Fatal(err)
		}
		return m["__keyspace@0__:q"]
	}
	sourcetest.Eventually(t, "one subscriber", func() bool { return numsub() == 1 })
	e.src.Unwatch(keyA)
	if n := numsub(); n != 1 {
		t.Errorf("%d subscribers after one of two triggers left, want 1", n)
	}
	e.src.Unwatch(keyB)
	sourcetest.Eventually(t, "no subscriber once the last trigger left", func() bool { return numsub() == 0 })
	sourcetest.Eventually(t, "no connection once the endpoint is unused", func() bool { return ourClients(t, srv) == 0 })
}

// ourClients counts the connections to srv other than the test's own.
func ourClients(t *testing.T, srv *redistest.Server) int {
	t.Helper()
	rdb := srv.Client()
	list, err := rdb.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	id, err := rdb.ClientID(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		if line != "" && !strings.HasPrefix(line, "id="+strconv.FormatInt(id, 10)+" ") {
			n++
		}
	}
	return n
}

func TestPartialNotifications(t *testing.T) {
	// Kl alone lacks g and x: deletions and expiries would go unseen, so
	// client tracking serves the trigger, and says why.
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "Kl"})
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"}, nil, idle))
	p := e.awaitPush(keyA, ReasonTracking)
	if !strings.Contains(p.Message, `missing "gx"`) {
		t.Errorf("push message %q", p.Message)
	}
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })
	srv.Client().RPush(t.Context(), "jobs", "a")
	e.awaitValue(keyA, "1 after RPUSH", func(v float64) bool { return v == 1 })
	srv.Client().Expire(t.Context(), "jobs", 100*time.Millisecond)
	e.awaitValue(keyA, "0 after the key expired", func(v float64) bool { return v == 0 })
}

func TestSetNeedsItsClass(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "Kglx"})
	rdb := srv.Client()
	rdb.SAdd(t.Context(), "tasks", "a")
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "tasks"}, nil, time.Second))
	e.watch(trig(keyB, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "plain"}, nil, time.Second))
	p := e.awaitPush(keyA, ReasonTracking)
	if !strings.Contains(p.Message, `missing "s"`) {
		t.Errorf("push message %q", p.Message)
	}
	e.awaitPush(keyB, ReasonSubscribed)
	rdb.SAdd(t.Context(), "tasks", "b")
	e.awaitValue(keyA, "SCARD 2 by tracking", func(v float64) bool { return v == 2 })
}

func TestConfigureNotificationsMerges(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "Es"})
	rdb := srv.Client()
	e := newEnv(t, Options{ConfigureNotifications: true})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"}, nil, idle))
	e.watch(trig(keyB, TypeRedisStreams, map[string]string{"address": srv.Addr(), "stream": "events"}, nil, idle))
	e.awaitPush(keyA, ReasonSubscribed)
	e.awaitPush(keyB, ReasonSubscribed)
	flags, err := rdb.ConfigGet(t.Context(), "notify-keyspace-events").Result()
	if err != nil {
		t.Fatal(err)
	}
	got := parseClasses(flags["notify-keyspace-events"])
	if miss := got.missing("EsKlgxt"); miss != "" {
		t.Errorf("notify-keyspace-events = %q: missing %q (the old E and s must stay)", flags["notify-keyspace-events"], miss)
	}
	rdb.RPush(t.Context(), "jobs", "x")
	e.awaitValue(keyA, "1", func(v float64) bool { return v == 1 })
}

func TestWrongPassword(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: testPassword})
	const wrong = "not-the-password-4f1d"
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"},
		map[string]string{"password": wrong}, time.Second))
	msg := e.awaitFailure(keyA)
	if !strings.Contains(msg, "WRONGPASS") {
		t.Errorf("failure %q, want WRONGPASS", msg)
	}
	p := e.awaitPush(keyA, ReasonSubscriptionLost)
	for _, c := range e.sink.Calls() {
		for _, s := range []string{c.Err, c.Push.Message} {
			if strings.Contains(s, wrong) || strings.Contains(s, testPassword) {
				t.Errorf("a password shows in %v", c)
			}
		}
	}
	if strings.Contains(e.logs.String(), wrong) {
		t.Error("the password shows in the log")
	}
	t.Logf("failure: %s; push: %s", msg, p.Message)
}

func TestOutageAndRecovery(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	rdb := srv.Client()
	ctx := t.Context()
	e := newEnv(t, Options{})
	// A is polled every second while its push path is down; B never is, so
	// only a hint or the resync after reconnecting can update it.
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"}, nil, time.Second))
	e.watch(trig(keyB, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "other"}, nil, idle))
	for _, k := range []store.Key{keyA, keyB} {
		e.awaitPush(k, ReasonSubscribed)
		e.awaitValue(k, "0", func(v float64) bool { return v == 0 })
	}
	resyncs := e.sched.Reconnects()

	srv.Stop()
	e.awaitPush(keyA, ReasonSubscriptionLost)
	if msg := e.awaitFailure(keyA); !strings.Contains(msg, "connection refused") {
		t.Errorf("failure %q", msg)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Pushed at once, most likely before the subscription is back (its
	// backoff has grown meanwhile): caught by the resync.
	subscribed := numsub(t, srv.Addr(), "__keyspace@0__:other") == 1
	rdb.RPush(ctx, "jobs", "a", "b", "c")
	rdb.RPush(ctx, "other", "a", "b")
	e.awaitValue(keyB, "2 after the restart", func(v float64) bool { return v == 2 })
	e.awaitValue(keyA, "3 after the restart", func(v float64) bool { return v == 3 })
	e.awaitPush(keyA, ReasonSubscribed)
	e.awaitPush(keyB, ReasonSubscribed)
	if e.sched.Reconnects() <= resyncs {
		t.Errorf("no resync after reconnecting")
	}
	t.Logf("subscribed again before the pushes: %v", subscribed)
	rdb.LPop(ctx, "jobs")
	e.awaitValue(keyA, "2 by push after the restart", func(v float64) bool { return v == 2 })
}

func TestStreams(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KEA"})
	rdb := srv.Client()
	ctx := t.Context()
	rdb.XGroupCreateMkStream(ctx, "orders", "workers", "$")
	rdb.XGroupCreate(ctx, "orders", "lagging", "0")
	e := newEnv(t, Options{})
	addr := srv.Addr()
	kLen := key(store.ScaledObject, "ns", "len", 0)
	kPending := key(store.ScaledObject, "ns", "pending", 0)
	kLag := key(store.ScaledObject, "ns", "lag", 0)
	kNoGroupLag := key(store.ScaledObject, "ns", "nogroup", 0)
	kMissing := key(store.ScaledObject, "ns", "missing", 0)
	e.watch(trig(kLen, TypeRedisStreams, map[string]string{"address": addr, "stream": "orders"}, nil, idle))
	e.watch(trig(kPending, TypeRedisStreams, map[string]string{"address": addr, "stream": "orders", "consumerGroup": "workers"}, nil, idle))
	e.watch(trig(kLag, TypeRedisStreams, map[string]string{"address": addr, "stream": "orders", "consumerGroup": "lagging", "lagCount": "10"}, nil, idle))
	e.watch(trig(kNoGroupLag, TypeRedisStreams, map[string]string{"address": addr, "stream": "orders", "consumerGroup": "later", "lagCount": "10"}, nil, idle))
	e.watch(trig(kMissing, TypeRedisStreams, map[string]string{"address": addr, "stream": "nothing", "consumerGroup": "g", "lagCount": "1"}, nil, idle))
	for _, k := range []store.Key{kLen, kPending, kLag} {
		e.awaitPush(k, ReasonSubscribed)
		e.awaitValue(k, "0", func(v float64) bool { return v == 0 })
	}
	e.awaitValue(kMissing, "lag 0 for a stream that does not exist", func(v float64) bool { return v == 0 })

	for range 3 {
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "orders", Values: map[string]any{"k": "v"}})
	}
	e.awaitValue(kLen, "XLEN 3", func(v float64) bool { return v == 3 })
	e.awaitValue(kLag, "lag 3", func(v float64) bool { return v == 3 })
	e.awaitValue(kNoGroupLag, "XLEN 3 without the group", func(v float64) bool { return v == 3 })
	if !hinted(e.sched.Hints(), `xlen "orders"`, true) || hinted(e.sched.Hints(), `xpending "orders" "workers"`, true) {
		t.Errorf("hints: XADD is additive for XLEN, not for XPENDING: %v", e.sched.Hints())
	}
	if v, _ := e.sink.Value(kPending); v != 0 {
		t.Errorf("pending %g before any read by the group", v)
	}
	// XREADGROUP is not notified (unless it creates a consumer): pending
	// entries are seen by the next read, here caused by an XADD.
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "c1", Streams: []string{"orders", ">"}, Count: 2})
	rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "lagging", Consumer: "c1", Streams: []string{"orders", ">"}, Count: 2})
	e.awaitValue(kPending, "XPENDING 2", func(v float64) bool { return v == 2 })
	e.awaitValue(kLag, "lag 1 after reading 2", func(v float64) bool { return v == 1 })
}

func TestPermissionDenied(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA",
		ACLs: []string{"app on >app-pass-1 ~* resetchannels &__keyspace@0__:allowed* +@all"}})
	e := newEnv(t, Options{})
	auth := map[string]string{"username": "app", "password": "app-pass-1"}
	kDenied, kAllowed := keyA, keyB
	e.watch(trig(kDenied, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "secret-queue"}, auth, time.Second))
	e.watch(trig(kAllowed, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "allowed-queue"}, auth, idle))
	p := e.awaitPush(kDenied, ReasonPermissionDenied)
	if !strings.Contains(p.Message, "NOPERM") {
		t.Errorf("push message %q", p.Message)
	}
	e.awaitPush(kAllowed, ReasonSubscribed)
	srv.Client().RPush(t.Context(), "secret-queue", "x")
	srv.Client().RPush(t.Context(), "allowed-queue", "x")
	e.awaitValue(kAllowed, "1 by push", func(v float64) bool { return v == 1 })
	e.awaitValue(kDenied, "1 by polling", func(v float64) bool { return v == 1 })
}

func TestDisablePush(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	rdb := srv.Client()
	e := newEnvPushOff(t, Options{}, map[string]bool{TypeRedisStreams: true})
	e.watch(trig(keyA, TypeRedisStreams, map[string]string{"address": srv.Addr(), "stream": "s"}, nil, time.Second))
	e.watch(trig(keyB, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "l"}, nil, idle))
	p := e.awaitPush(keyA, ReasonDisabledByConfig)
	if p.Healthy {
		t.Errorf("push = %+v", p)
	}
	e.awaitPush(keyB, ReasonSubscribed)
	m, _ := rdb.PubSubNumSub(t.Context(), "__keyspace@0__:s").Result()
	if m["__keyspace@0__:s"] != 0 {
		t.Errorf("a trigger with push disabled is subscribed")
	}
	rdb.XAdd(t.Context(), &redis.XAddArgs{Stream: "s", Values: map[string]any{"a": 1}})
	e.awaitValue(keyA, "1 by polling", func(v float64) bool { return v == 1 })
}

func TestWatchMovesAndStops(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	rdb := srv.Client()
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "one"}, nil, idle))
	e.awaitPush(keyA, ReasonSubscribed)
	// The same key watched again with another list moves to it.
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "two"}, nil, idle))
	rdb.RPush(t.Context(), "two", "x", "y")
	e.awaitValue(keyA, "2 from the new list", func(v float64) bool { return v == 2 })
	rdb.RPush(t.Context(), "one", "x")
	sourcetest.Eventually(t, "the old list unsubscribed", func() bool {
		m, _ := rdb.PubSubNumSub(t.Context(), "__keyspace@0__:one").Result()
		return m["__keyspace@0__:one"] == 0
	})
	// An invalid trigger is refused and no longer watched.
	err := e.src.Watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "two", "listLength": "-1"}, nil, idle))
	if err == nil || !strings.Contains(err.Error(), `listLength "-1"`) {
		t.Errorf("Watch = %v", err)
	}
	sourcetest.Eventually(t, "the list unsubscribed", func() bool {
		m, _ := rdb.PubSubNumSub(t.Context(), "__keyspace@0__:two").Result()
		return m["__keyspace@0__:two"] == 0
	})
}

func TestWatchAfterStop(t *testing.T) {
	src := New(sourcetest.NewDeps(t, sourcetest.NewSink()), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- src.Start(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	err := src.Watch(trig(keyA, TypeRedis, map[string]string{"address": "127.0.0.1:1", "listName": "q"}, nil, idle))
	if !errors.Is(err, sources.ErrStopped) {
		t.Errorf("Watch after Start returned: %v, want ErrStopped", err)
	}
}
