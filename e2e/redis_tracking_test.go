package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// redisStreamSO scales on a stream's length (consumers XDEL what they
// have done), the password from redisAuth. A group's lag or pending
// entries would not do here: XREADGROUP and XACK change neither a key's
// notifications nor its tracking, so while active they are read every
// pollingInterval.
const redisStreamSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: 300
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: redis-streams
    metadata:
      address: %[2]s
      stream: orders
      streamLength: "5"
    authenticationRef:
      name: redis-auth
`

// redisClusterSO is a list on a Redis Cluster, without a password.
const redisClusterSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: 300
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: redis-cluster
    metadata:
      addresses: %[2]s
      listName: %[3]s
      listLength: "2"
`

// awaitTracking waits for PushHealthy=True with reason Tracking.
func awaitTracking(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, shortWait, "PushHealthy=True Tracking", func() (bool, error) {
		c := condition(t, ns, name, kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionTrue && c.Reason == kedav1.ReasonTracking, fmt.Errorf("%+v", c)
	})
}

// TestRedisTrackingWhereConfigIsDenied: a server as managed services run
// it (keyspace notifications off, CONFIG renamed away). LPUSH and XADD
// wake their Deployments 0→1 by push (pollingInterval 300 s: no poll can),
// consumption returns them to 0, and a server restart loses no activation.
func TestRedisTrackingWhereConfigIsDenied(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const password = "tracking-pa55"
	srv := redistest.StartServer(t, redistest.ServerOptions{DisableConfig: true, Password: password})
	rdb := srv.Client()
	for _, name := range []string{"lists", "streams"} {
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, ns, redisScaledObject("lists", srv.Addr(), password, 300, ""))
	apply(t, ns, fmt.Sprintf(redisStreamSO, "streams", srv.Addr()))
	awaitTracking(t, ns, "lists")
	awaitTracking(t, ns, "streams")

	rdb.LPush(ctx, "jobs", "a")
	waitReplicas(t, ns, "lists", 1, shortWait)
	rdb.XAdd(ctx, &redis.XAddArgs{Stream: "orders", Values: map[string]any{"n": 1}})
	waitReplicas(t, ns, "streams", 1, shortWait)

	// Consumption: the list drained, the stream's entries deleted.
	rdb.LPop(ctx, "jobs")
	msgs, err := rdb.XRange(ctx, "orders", "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("XRANGE = %v, %v", msgs, err)
	}
	rdb.XDel(ctx, "orders", msgs[0].ID)
	waitReplicas(t, ns, "lists", 0, longWait)
	waitReplicas(t, ns, "streams", 0, longWait)

	// Pushed right after the restart, most likely before the gateway is
	// back: the read after it reconnects catches it.
	srv.Stop()
	eventually(t, shortWait, "PushHealthy=False while Redis is down", func() (bool, error) {
		c := condition(t, ns, "lists", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionFalse, fmt.Errorf("%+v", c)
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.RPush(ctx, "jobs", "x").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "lists", 1, longWait)
	awaitTracking(t, ns, "lists")
	rdb.Del(ctx, "jobs")
	waitReplicas(t, ns, "lists", 0, longWait)
	rdb.RPush(ctx, "jobs", "y")
	waitReplicas(t, ns, "lists", 1, shortWait)
	if strings.Contains(gwLogs.String(), password) {
		t.Fatal("the Redis password appears in the gateway's logs")
	}
}

// TestRedisClusterTrackingFollowsSlotMigration: on a 3+3 cluster with
// notifications off and CONFIG renamed away, the list's slot moves to
// another primary during the test; pushes before and after it wake the
// Deployment.
func TestRedisClusterTrackingFollowsSlotMigration(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	c := redistest.StartCluster(t, redistest.ClusterOptions{DisableConfig: true})
	rdb := c.Client()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "clustered", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const list = "b"
	apply(t, ns, fmt.Sprintf(redisClusterSO, "clustered", strings.Join(c.Addrs(), ","), list))
	awaitTracking(t, ns, "clustered")

	rdb.RPush(ctx, list, "1")
	waitReplicas(t, ns, "clustered", 1, shortWait)
	rdb.Del(ctx, list)
	waitReplicas(t, ns, "clustered", 0, longWait)
	rdb.RPush(ctx, list, "1")
	waitReplicas(t, ns, "clustered", 1, shortWait)

	// The slot moves with the key in it; the old owner's invalidation (the
	// key migrated away) and the new owner's registration keep it pushed.
	from := c.NodeFor(list)
	var to string
	for _, a := range c.PrimaryAddrs() {
		if a != from {
			to = a
			break
		}
	}
	c.MoveSlot(t, c.SlotOf(list), to)
	if got := c.NodeFor(list); got != to {
		t.Fatalf("the slot is on %s after the move, want %s", got, to)
	}
	rdb.Del(ctx, list)
	waitReplicas(t, ns, "clustered", 0, longWait)
	rdb.RPush(ctx, list, "3")
	waitReplicas(t, ns, "clustered", 1, shortWait)
	awaitTracking(t, ns, "clustered")
}
