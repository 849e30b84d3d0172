package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// redisAuth is the Secret and the TriggerAuthentication redis-auth of
// redisSO (the password is its third argument).
const redisAuth = `
apiVersion: v1
kind: Secret
metadata:
  name: redis-auth
stringData:
  password: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: redis-auth
spec:
  secretTargetRef:
  - parameter: password
    name: redis-auth
    key: password
`

// redisSO is KEDA's getting-started shape: a list's length with a password
// from a TriggerAuthentication.
const redisSO = redisAuth + `---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: %[4]d
  cooldownPeriod: 2
  maxReplicaCount: 5
  %[5]s
  triggers:
  - type: redis
    metadata:
      address: %[2]s
      listName: jobs
      listLength: "2"
    authenticationRef:
      name: redis-auth
`

func redisScaledObject(name, addr, password string, pollingInterval int, extra string) string {
	return fmt.Sprintf(redisSO, name, addr, password, pollingInterval, extra)
}

// TestRedisListScalesZeroToNAndBack: LPUSH on an empty list wakes the
// Deployment at once (keyspace notification), growing the list scales 1→N
// through the HPA, and draining it (LPOP, then DEL) returns it to 0 after
// cooldown.
func TestRedisListScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const password = "redis-pa55word"
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: password})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "consumer", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// pollingInterval 300 s: only a push can wake it within the test.
	apply(t, ns, redisScaledObject("consumer", srv.Addr(), password, 300, ""))
	eventually(t, shortWait, "Ready and PushHealthy", func() (bool, error) {
		so := scaledObject(t, ns, "consumer")
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue, fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	rdb := srv.Client()
	if err := rdb.LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "consumer", 1, shortWait)
	for i := range 7 {
		rdb.LPush(ctx, "jobs", fmt.Sprint(i))
	}
	waitReplicas(t, ns, "consumer", 4, longWait) // 8 items / listLength 2
	for range 4 {
		rdb.LPop(ctx, "jobs")
	}
	rdb.Del(ctx, "jobs")
	waitReplicas(t, ns, "consumer", 0, longWait)
	if so := scaledObject(t, ns, "consumer"); so.Status.ExternalMetricNames[0] != "s0-redis-jobs" {
		t.Fatalf("externalMetricNames %v", so.Status.ExternalMetricNames)
	}
	if strings.Contains(gwLogs.String(), password) {
		t.Fatal("the Redis password appears in the gateway's logs")
	}
}

// TestRedisOutageIsResynced: items pushed while Redis was down are caught
// by the read that follows the reconnect.
func TestRedisOutageIsResynced(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: "pw"})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "resync", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, redisScaledObject("resync", srv.Addr(), "pw", 300, ""))
	eventually(t, shortWait, "PushHealthy", func() (bool, error) {
		c := condition(t, ns, "resync", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	srv.Stop()
	eventually(t, shortWait, "PushHealthy=False while Redis is down", func() (bool, error) {
		c := condition(t, ns, "resync", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionFalse, fmt.Errorf("%+v", c)
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// Written straight away, before the gateway has resubscribed: only the
	// resync read after the reconnect can see it.
	if err := srv.Client().RPush(ctx, "jobs", "x", "y").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "resync", 1, longWait)
}

// TestRedisWithoutNotificationsPolls: with keyspace notifications off and
// CLIENT TRACKING denied to the user, the trigger is polled every
// pollingInterval and says why.
func TestRedisWithoutNotificationsPolls(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{Password: "pw",
		ACLs: []string{"default on >pw ~* &* +@all -client|tracking"}})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "polled", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, redisScaledObject("polled", srv.Addr(), "pw", 1, ""))
	eventually(t, shortWait, "PushHealthy=False NotificationsDisabled", func() (bool, error) {
		c := condition(t, ns, "polled", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionFalse && c.Reason == kedav1.ReasonNotificationsDisabled, fmt.Errorf("%+v", c)
	})
	srv.Client().LPush(ctx, "jobs", "a")
	waitReplicas(t, ns, "polled", 1, shortWait)
}

// TestRedisWrongPasswordAndFallback: a wrong password gives a clear
// condition with the password nowhere; with a fallback, a server that
// stops makes the HPA go to fallback.replicas, and recovery clears it.
func TestRedisWrongPasswordAndFallback(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: "right-pw"})
	for _, name := range []string{"wrong", "fallback"} {
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	const wrong = "wr0ng-passw0rd-value"
	apply(t, ns, redisScaledObject("wrong", srv.Addr(), wrong, 1, ""))
	eventually(t, shortWait, "Ready=False for the wrong password", func() (bool, error) {
		c := condition(t, ns, "wrong", kedav1.ConditionReady)
		return c.Status == metav1.ConditionFalse, fmt.Errorf("%+v", c)
	})
	so := scaledObject(t, ns, "wrong")
	events, _ := env.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if dump := fmt.Sprintf("%+v %+v %s", so.Status, events.Items, gwLogs.String()); strings.Contains(dump, wrong) {
		t.Fatal("the wrong password appears in status, events or logs")
	}
	resp, err := http.Get(gw.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), wrong) {
		t.Fatal("the wrong password appears in /metrics")
	}
	if !strings.Contains(string(body), `pushscale_broker_reads_total{reason="poll",source="redis"}`) {
		t.Fatal("/metrics shows no polled Redis reads")
	}

	// Its own Secret and TriggerAuthentication, with the right password.
	apply(t, ns, strings.ReplaceAll(redisScaledObject("fallback", srv.Addr(), "right-pw", 1,
		"fallback:\n    failureThreshold: 2\n    replicas: 3"), "redis-auth", "redis-auth-ok"))
	srv.Client().RPush(ctx, "jobs", "1", "2")
	waitReplicas(t, ns, "fallback", 1, shortWait)
	srv.Stop()
	waitReplicas(t, ns, "fallback", 3, longWait)
	eventually(t, shortWait, "Fallback=True", func() (bool, error) {
		c := condition(t, ns, "fallback", kedav1.ConditionFallback)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	// Fallback needs more than failureThreshold (2) failed reads, each
	// counted in KEDA's error counter.
	labels := fmt.Sprintf(`metric="s0-redis-jobs",namespace=%q,scaledObject="fallback",scaler="redis",triggerIndex="0",type="scaledobject"`, ns)
	if n, _ := gatewayGauge(t, "keda_scaler_detail_errors_total", labels); n < 3 {
		t.Fatalf("keda_scaler_detail_errors_total for the fallback object = %g, want at least 3", n)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	srv.Client().RPush(ctx, "jobs", "1", "2")
	eventually(t, longWait, "Fallback=False after recovery", func() (bool, error) {
		c := condition(t, ns, "fallback", kedav1.ConditionFallback)
		return c.Status == metav1.ConditionFalse, fmt.Errorf("%+v", c)
	})
	waitReplicas(t, ns, "fallback", 1, longWait)
}
