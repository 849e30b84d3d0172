package redis

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pushscale/pushscale/sources/redis/redistest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

// numsub returns the subscribers of channel on the node at addr (PUBSUB
// NUMSUB is local to a node, also in a cluster).
func numsub(t *testing.T, addr, channel string) int64 {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2})
	defer c.Close()
	m, err := c.PubSubNumSub(t.Context(), channel).Result()
	if err != nil {
		t.Fatalf("PUBSUB NUMSUB on %s: %v", addr, err)
	}
	return m[channel]
}

func TestCluster(t *testing.T) {
	c := redistest.StartCluster(t, redistest.ClusterOptions{NotifyKeyspaceEvents: "KA"})
	rdb := c.Client()
	ctx := t.Context()
	e := newEnv(t, Options{TopologyInterval: 200 * time.Millisecond})
	addrs := strings.Join(c.Addrs(), ",")

	// a, b and c hash to slots 15495, 3300 and 7365: one per primary.
	keys := map[string]store.Key{
		"a": key(store.ScaledObject, "ns", "list-a", 0),
		"b": key(store.ScaledObject, "ns", "list-b", 0),
		"c": key(store.ScaledObject, "ns", "list-c", 0),
	}
	owners := map[string]bool{}
	for list, k := range keys {
		owners[c.NodeFor(list)] = true
		e.watch(trig(k, TypeRedisCluster, map[string]string{"addresses": addrs, "listName": list}, nil, idle))
	}
	if len(owners) != 3 {
		t.Fatalf("the keys are on %d primaries, want 3", len(owners))
	}
	kStream := key(store.ScaledObject, "ns", "stream", 0)
	e.watch(trig(kStream, TypeRedisClusterStreams, map[string]string{"addresses": addrs, "stream": "{b}events"}, nil, idle))
	for _, k := range keys {
		e.awaitPush(k, ReasonSubscribed)
		e.awaitValue(k, "0", func(v float64) bool { return v == 0 })
	}
	e.awaitPush(kStream, ReasonSubscribed)
	for list, k := range keys {
		start := time.Now()
		rdb.RPush(ctx, list, "x")
		e.awaitValue(k, "1 after RPUSH", func(v float64) bool { return v == 1 })
		t.Logf("RPUSH %s on %s → 1 in %s", list, c.NodeFor(list), time.Since(start))
	}
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "{b}events", Values: map[string]any{"k": 1}})
	e.awaitValue(kStream, "XLEN 1", func(v float64) bool { return v == 1 })

	t.Run("Failover", func(t *testing.T) {
		old := c.NodeFor("a")
		promoted := c.Failover(t, old)
		sourcetest.Eventually(t, "the channel subscribed on the new primary", func() bool {
			return numsub(t, promoted, "__keyspace@0__:a") == 1
		})
		sourcetest.Eventually(t, "the channel no longer subscribed on the old primary", func() bool {
			return numsub(t, old, "__keyspace@0__:a") == 0
		})
		rdb.RPush(ctx, "a", "y")
		e.awaitValue(keys["a"], "2 after the failover", func(v float64) bool { return v == 2 })
		e.awaitPush(keys["a"], ReasonSubscribed)
	})

	t.Run("Reshard", func(t *testing.T) {
		from := c.NodeFor("b")
		to := c.NodeFor("c")
		c.MoveSlot(t, slotOf("b"), to)
		sourcetest.Eventually(t, "the channel subscribed on the slot's new owner", func() bool {
			return numsub(t, to, "__keyspace@0__:b") == 1 && numsub(t, to, "__keyspace@0__:{b}events") == 1
		})
		sourcetest.Eventually(t, "the channel no longer subscribed on the old owner", func() bool {
			return numsub(t, from, "__keyspace@0__:b") == 0
		})
		rdb.RPush(ctx, "b", "y", "z")
		e.awaitValue(keys["b"], "3 after the reshard", func(v float64) bool { return v == 3 })
		rdb.XAdd(ctx, &redis.XAddArgs{Stream: "{b}events", Values: map[string]any{"k": 2}})
		e.awaitValue(kStream, "XLEN 2 after the reshard", func(v float64) bool { return v == 2 })
	})
}

func TestSentinel(t *testing.T) {
	s := redistest.StartSentinel(t, redistest.SentinelOptions{NotifyKeyspaceEvents: "KA", Password: testPassword})
	rdb := s.Client()
	ctx := t.Context()
	e := newEnv(t, Options{TopologyInterval: 200 * time.Millisecond})
	md := map[string]string{"addresses": strings.Join(s.SentinelAddrs(), ","), "sentinelMaster": s.MasterName(), "listName": "jobs"}
	auth := map[string]string{"password": testPassword}
	e.watch(trig(keyA, TypeRedisSentinel, md, auth, idle))
	e.watch(trig(keyB, TypeRedisSentinelStreams, map[string]string{"addresses": md["addresses"], "sentinelMaster": s.MasterName(),
		"stream": "events"}, auth, idle))
	e.awaitPush(keyA, ReasonSubscribed)
	e.awaitPush(keyB, ReasonSubscribed)
	rdb.RPush(ctx, "jobs", "x")
	e.awaitValue(keyA, "1", func(v float64) bool { return v == 1 })

	master := s.MasterAddr(t)
	promoted := s.Failover(t)
	if promoted == master {
		t.Fatalf("the master did not change")
	}
	sourcetest.Eventually(t, "the channel subscribed on the new master", func() bool {
		c := redis.NewClient(&redis.Options{Addr: promoted, Password: testPassword, Protocol: 2})
		defer c.Close()
		m, err := c.PubSubNumSub(ctx, "__keyspace@0__:jobs").Result()
		return err == nil && m["__keyspace@0__:jobs"] == 1
	})
	rdb.RPush(ctx, "jobs", "y")
	e.awaitValue(keyA, "2 after the switch", func(v float64) bool { return v == 2 })
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "events", Values: map[string]any{"k": 1}})
	e.awaitValue(keyB, "XLEN 1 after the switch", func(v float64) bool { return v == 1 })
	e.awaitPush(keyA, ReasonSubscribed)
}
