package redis

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pushscale/pushscale/sources/redis/redistest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

// TestTrackingWhereConfigIsDenied runs a server as managed services do:
// keyspace notifications off and CONFIG renamed away. Every trigger is
// pushed through client tracking; pollingInterval is an hour, so values
// can only come from invalidations and the reads they cause.
func TestTrackingWhereConfigIsDenied(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{DisableConfig: true, Password: testPassword})
	rdb := srv.Client()
	ctx := t.Context()
	if err := rdb.ConfigGet(ctx, "notify-keyspace-events").Err(); err == nil {
		t.Fatal("CONFIG GET works: the server is not set up as a managed one")
	}
	rdb.XGroupCreateMkStream(ctx, "orders", "workers", "$")
	e := newEnv(t, Options{HealthCheckInterval: 200 * time.Millisecond})
	auth := map[string]string{"password": testPassword}
	addr := srv.Addr()
	kList, kLen, kLag := keyA, keyB, keyC
	e.watch(trig(kList, TypeRedis, map[string]string{"address": addr, "listName": "jobs"}, auth, idle))
	e.watch(trig(kLen, TypeRedisStreams, map[string]string{"address": addr, "stream": "events"}, auth, idle))
	e.watch(trig(kLag, TypeRedisStreams, map[string]string{"address": addr, "stream": "orders", "consumerGroup": "workers", "lagCount": "5"}, auth, idle))
	for _, k := range []store.Key{kList, kLen, kLag} {
		p := e.awaitPush(k, ReasonTracking)
		if !p.Healthy || !strings.Contains(p.Message, "client tracking on "+addr) || !strings.Contains(p.Message, "cannot read notify-keyspace-events") {
			t.Errorf("push of %v = %+v", k, p)
		}
		if strings.Contains(p.Message, testPassword) {
			t.Errorf("push message holds the password: %q", p.Message)
		}
		e.awaitValue(k, "0", func(v float64) bool { return v == 0 })
	}

	rdb.LPush(ctx, "jobs", "a")
	e.awaitValue(kList, "1 after LPUSH", func(v float64) bool { return v == 1 })
	if !hinted(e.sched.Hints(), `list "jobs"`, false) {
		t.Errorf("no hint from the invalidation: %v", e.sched.Hints())
	}
	// The read after the invalidation registered the key again.
	rdb.LPush(ctx, "jobs", "b")
	e.awaitValue(kList, "2 after a second LPUSH", func(v float64) bool { return v == 2 })
	rdb.LPop(ctx, "jobs")
	e.awaitValue(kList, "1 after LPOP", func(v float64) bool { return v == 1 })
	rdb.Del(ctx, "jobs")
	rdb.SAdd(ctx, "jobs", "a", "b", "c")
	e.awaitValue(kList, "SCARD 3", func(v float64) bool { return v == 3 })

	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: map[string]any{"k": 1}})
	e.awaitValue(kLen, "XLEN 1 after XADD", func(v float64) bool { return v == 1 })
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "orders", Values: map[string]any{"k": 1}})
	e.awaitValue(kLag, "lag 1 after XADD", func(v float64) bool { return v == 1 })

	t.Run("FlushAll", func(t *testing.T) {
		resyncs := e.sched.Reconnects()
		rdb.FlushAll(ctx)
		e.awaitValue(kList, "0 after FLUSHALL", func(v float64) bool { return v == 0 })
		e.awaitValue(kLen, "0 after FLUSHALL", func(v float64) bool { return v == 0 })
		if e.sched.Reconnects() != resyncs {
			t.Errorf("FLUSHALL's invalidation dropped the subscription (a resync followed)")
		}
		rdb.RPush(ctx, "jobs", "x")
		e.awaitValue(kList, "1 after RPUSH", func(v float64) bool { return v == 1 })
	})

	t.Run("ReadConnectionKilled", func(t *testing.T) {
		// The server forgets the keys of a connection that closes: the next
		// connection (made by the health PING) reads them all again.
		killClients(t, rdb, func(fields map[string]string) bool { return strings.Contains(fields["flags"], "t") })
		rdb.RPush(ctx, "jobs", "y")
		e.awaitValue(kList, "2 after RPUSH, the read connection killed", func(v float64) bool { return v == 2 })
		rdb.RPush(ctx, "jobs", "z")
		e.awaitValue(kList, "3 after another RPUSH", func(v float64) bool { return v == 3 })
	})

	t.Run("SubscriptionKilled", func(t *testing.T) {
		// A new subscription connection has a new ID: the reads are
		// redirected there and every resource is read again.
		resyncs := e.sched.Reconnects()
		killClients(t, rdb, func(fields map[string]string) bool { return strings.Contains(fields["flags"], "P") })
		sourcetest.Eventually(t, "a resync after the subscription came back", func() bool { return e.sched.Reconnects() > resyncs })
		rdb.RPush(ctx, "jobs", "w")
		e.awaitValue(kList, "4 after RPUSH, the subscription killed", func(v float64) bool { return v == 4 })
		e.awaitPush(kList, ReasonTracking)
	})
}

// killClients kills the connections CLIENT LIST shows that match.
func killClients(t *testing.T, rdb *redis.Client, match func(fields map[string]string) bool) {
	t.Helper()
	list, err := rdb.ClientList(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for line := range strings.SplitSeq(strings.TrimSpace(list), "\n") {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if match(fields) {
			id, _ := strconv.ParseInt(fields["id"], 10, 64)
			if err := rdb.ClientKillByFilter(t.Context(), "ID", strconv.FormatInt(id, 10)).Err(); err != nil {
				t.Fatal(err)
			}
			killed++
		}
	}
	if killed == 0 {
		t.Fatalf("no connection to kill in:\n%s", list)
	}
}

// TestNotificationsDisabledPolls: without notifications, and with CLIENT
// TRACKING denied to the user, a trigger is polled, and says why.
func TestNotificationsDisabledPolls(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{
		ACLs: []string{"app on >app-pass-2 ~* &* +@all -client|tracking"}})
	rdb := srv.Client()
	e := newEnv(t, Options{})
	auth := map[string]string{"username": "app", "password": "app-pass-2"}
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"}, auth, time.Second))
	p := e.awaitPush(keyA, ReasonNotificationsDisabled)
	if p.Healthy || !strings.Contains(p.Message, `missing "Kglx"`) || !strings.Contains(p.Message, "client tracking is not available either") ||
		!strings.Contains(p.Message, "NOPERM") {
		t.Errorf("push = %+v", p)
	}
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })
	rdb.LPush(t.Context(), "jobs", 1, 2)
	start := time.Now()
	e.awaitValue(keyA, "2 through polling", func(v float64) bool { return v == 2 })
	t.Logf("polled value after %s", time.Since(start))
}

func TestTrackingTableTooSmall(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{Args: []string{"--tracking-table-max-keys", "1"}})
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "one"}, nil, idle))
	e.watch(trig(keyB, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "two"}, nil, idle))
	sourcetest.Eventually(t, "PushHealthy saying the table is too small", func() bool {
		p, ok := e.sink.Push(keyA)
		return ok && p.Reason == ReasonTracking && strings.Contains(p.Message, "tracking-table-max-keys")
	})
	// Evictions cost reads, not changes.
	srv.Client().RPush(t.Context(), "one", "a")
	srv.Client().RPush(t.Context(), "two", "a", "b")
	e.awaitValue(keyA, "1", func(v float64) bool { return v == 1 })
	e.awaitValue(keyB, "2", func(v float64) bool { return v == 2 })
}

// TestTrackingServerRestart: a restarted server has forgotten everything;
// the subscription comes back, the reads are redirected to it, and every
// resource is read.
func TestTrackingServerRestart(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{DisableConfig: true})
	rdb := srv.Client()
	ctx := t.Context()
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"}, nil, idle))
	e.awaitPush(keyA, ReasonTracking)
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })

	srv.Stop()
	e.awaitPush(keyA, ReasonSubscriptionLost)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	rdb.RPush(ctx, "jobs", "a", "b") // most likely before the subscription is back: the resync sees it
	e.awaitValue(keyA, "2 after the restart", func(v float64) bool { return v == 2 })
	e.awaitPush(keyA, ReasonTracking)
	rdb.RPush(ctx, "jobs", "c")
	e.awaitValue(keyA, "3 by push after the restart", func(v float64) bool { return v == 3 })
}

// TestTrackingCluster: tracking is per node connection, and follows a
// failover and a slot migration.
func TestTrackingCluster(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{DisableConfig: true})
	rdb := c.Client()
	ctx := t.Context()
	e := newEnv(t, Options{TopologyInterval: 200 * time.Millisecond})
	addrs := strings.Join(c.Addrs(), ",")
	keys := map[string]store.Key{ // one per primary, as in TestCluster
		"a": key(store.ScaledObject, "ns", "list-a", 0),
		"b": key(store.ScaledObject, "ns", "list-b", 0),
		"c": key(store.ScaledObject, "ns", "list-c", 0),
	}
	for list, k := range keys {
		e.watch(trig(k, TypeRedisCluster, map[string]string{"addresses": addrs, "listName": list}, nil, idle))
	}
	kStream := key(store.ScaledObject, "ns", "stream", 0)
	e.watch(trig(kStream, TypeRedisClusterStreams, map[string]string{"addresses": addrs, "stream": "{b}events"}, nil, idle))
	for list, k := range keys {
		p := e.awaitPush(k, ReasonTracking)
		if !strings.Contains(p.Message, c.NodeFor(list)) {
			t.Errorf("push of %s names another node than %s: %q", list, c.NodeFor(list), p.Message)
		}
		e.awaitValue(k, "0", func(v float64) bool { return v == 0 })
	}
	e.awaitPush(kStream, ReasonTracking)
	for list, k := range keys {
		rdb.RPush(ctx, list, "x")
		e.awaitValue(k, "1 after RPUSH", func(v float64) bool { return v == 1 })
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "{b}events", Values: map[string]any{"k": 1}})
	e.awaitValue(kStream, "XLEN 1", func(v float64) bool { return v == 1 })

	t.Run("Reshard", func(t *testing.T) {
		to := c.NodeFor("c")
		c.MoveSlot(t, slotOf("b"), to)
		rdb.RPush(ctx, "b", "y", "z")
		e.awaitValue(keys["b"], "3 after the reshard", func(v float64) bool { return v == 3 })
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "{b}events", Values: map[string]any{"k": 2}})
		e.awaitValue(kStream, "XLEN 2 after the reshard", func(v float64) bool { return v == 2 })
		// Registered on the new owner: the next change is pushed too.
		rdb.LPop(ctx, "b")
		e.awaitValue(keys["b"], "2 after LPOP on the new owner", func(v float64) bool { return v == 2 })
	})

	t.Run("Failover", func(t *testing.T) {
		c.Failover(t, c.NodeFor("a"))
		rdb.RPush(ctx, "a", "y")
		e.awaitValue(keys["a"], "2 after the failover", func(v float64) bool { return v == 2 })
		rdb.RPush(ctx, "a", "z")
		e.awaitValue(keys["a"], "3 by push on the new primary", func(v float64) bool { return v == 3 })
	})
}

// TestTrackingReadsOnlyWhatNotificationsMiss: where notifications cover a
// trigger, its keyspace channel serves it and tracking stays off.
func TestTrackingReadsOnlyWhatNotificationsMiss(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	e := newEnv(t, Options{})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "jobs"}, nil, idle))
	e.awaitPush(keyA, ReasonSubscribed)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	list, err := srv.Client().ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(list, "\n") {
		for f := range strings.FieldsSeq(line) {
			if v, ok := strings.CutPrefix(f, "flags="); ok && strings.Contains(v, "t") {
				t.Errorf("a connection tracks keys though notifications cover the trigger: %s", line)
			}
		}
	}
}

// TestTrackingSentinel: tracking follows Sentinel's master switch.
func TestTrackingSentinel(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{Password: testPassword})
	rdb := s.Client()
	ctx := t.Context()
	e := newEnv(t, Options{TopologyInterval: 200 * time.Millisecond})
	md := map[string]string{"addresses": strings.Join(s.SentinelAddrs(), ","), "sentinelMaster": s.MasterName(), "listName": "jobs"}
	e.watch(trig(keyA, TypeRedisSentinel, md, map[string]string{"password": testPassword}, idle))
	e.awaitPush(keyA, ReasonTracking)
	rdb.RPush(ctx, "jobs", "x")
	e.awaitValue(keyA, "1", func(v float64) bool { return v == 1 })

	master := s.MasterAddr(t)
	if promoted := s.Failover(t); promoted == master {
		t.Fatalf("the master did not change")
	}
	rdb.RPush(ctx, "jobs", "y")
	e.awaitValue(keyA, "2 after the switch", func(v float64) bool { return v == 2 })
	rdb.RPush(ctx, "jobs", "z")
	e.awaitValue(keyA, "3 by push on the new master", func(v float64) bool { return v == 3 })
	p := e.awaitPush(keyA, ReasonTracking)
	if master := s.MasterAddr(t); !strings.Contains(p.Message, master) {
		t.Errorf("push names another node than the master %s: %q", master, p.Message)
	}
}
