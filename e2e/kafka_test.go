package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/kafka/kafkatest"
)

// kafkaSO is KEDA's kafka example: a consumer group's lag on a topic, with
// SASL from a TriggerAuthentication when auth is set.
const kafkaSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: %[3]d
  cooldownPeriod: 2
  maxReplicaCount: 10
  triggers:
  - type: kafka
    metadata:
      bootstrapServers: %[2]s
      consumerGroup: workers
      topic: orders
      lagThreshold: "5"
%[4]s`

func kafkaScaledObject(name, addr string, pollingInterval int, auth string) string {
	return fmt.Sprintf(kafkaSO, name, addr, pollingInterval, auth)
}

// kafkaAuth is a Secret and a TriggerAuthentication for SCRAM-SHA-256, and
// the trigger's reference to them.
const kafkaAuth = `
    authenticationRef:
      name: kafka-auth
---
apiVersion: v1
kind: Secret
metadata:
  name: kafka-auth
stringData:
  sasl: scram_sha256
  username: %[1]s
  password: %[2]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: kafka-auth
spec:
  secretTargetRef:
  - {parameter: sasl, name: kafka-auth, key: sasl}
  - {parameter: username, name: kafka-auth, key: username}
  - {parameter: password, name: kafka-auth, key: password}
`

// commitAll commits group workers at the log-end offset of every partition
// of orders: a consumer that has caught up.
func commitAll(c *kafkatest.Cluster, partitions int32) {
	for p := range partitions {
		c.Commit("workers", "orders", p, c.End("orders", p))
	}
}

func kafkaReady(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, shortWait, "Ready and PushHealthy", func() (bool, error) {
		so := scaledObject(t, ns, name)
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue, fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
}

// TestKafkaScalesZeroToNAndBack: the first record wakes the Deployment at
// once (a parked fetch answers), a backlog scales 1→N through the HPA
// (capped at the partition count), and commits return it to 0 after
// cooldown.
func TestKafkaScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const partitions = 4
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}, Partitions: partitions})
	commitAll(c, partitions)
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "kconsumer", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Idle and push-healthy, it is never polled: only a push wakes it.
	apply(t, ns, kafkaScaledObject("kconsumer", c.Addr(), 2, ""))
	kafkaReady(t, ns, "kconsumer")

	start := time.Now()
	c.Produce("orders", 0, 1)
	waitReplicas(t, ns, "kconsumer", 1, shortWait)
	t.Logf("produce → replicas 1 in %s", time.Since(start))

	for p := range int32(partitions) {
		c.Produce("orders", p, 10) // lag 41: 9 replicas' worth, capped at 4 partitions
	}
	waitReplicas(t, ns, "kconsumer", partitions, longWait)
	commitAll(c, partitions)
	waitReplicas(t, ns, "kconsumer", 0, longWait)
	if so := scaledObject(t, ns, "kconsumer"); so.Status.ExternalMetricNames[0] != "s0-kafka-orders" {
		t.Fatalf("externalMetricNames %v", so.Status.ExternalMetricNames)
	}
}

// TestKafkaOutageLosesNoActivation: records that land while the cluster
// drops every connection of the gateway wake the Deployment once it
// answers again.
func TestKafkaOutageLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}})
	c.Produce("orders", 0, 1) // the producer is connected before the outage
	commitAll(c, 1)
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "koutage", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, kafkaScaledObject("koutage", c.Addr(), 300, ""))
	kafkaReady(t, ns, "koutage")
	c.SetDown(true)
	eventually(t, shortWait, "PushHealthy=False while the cluster drops connections", func() (bool, error) {
		p := condition(t, ns, "koutage", kedav1.ConditionPushHealthy)
		return p.Status == metav1.ConditionFalse && p.Reason == "SubscriptionLost", fmt.Errorf("%+v", p)
	})
	c.Produce("orders", 0, 2)
	time.Sleep(time.Second)
	c.SetDown(false)
	waitReplicas(t, ns, "koutage", 1, longWait)
	eventually(t, shortWait, "PushHealthy again", func() (bool, error) {
		p := condition(t, ns, "koutage", kedav1.ConditionPushHealthy)
		return p.Status == metav1.ConditionTrue, fmt.Errorf("%+v", p)
	})
}

// TestKafkaWrongPassword: refused SASL credentials are Ready=False naming
// the password, which appears nowhere: status, events, logs, /metrics.
func TestKafkaWrongPassword(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	c := kafkatest.Start(t, kafkatest.Options{Topics: []string{"orders"}, User: "scaler", Password: "right-pa55word"})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "kwrong", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const wrong = "wr0ng-kafka-passw0rd"
	apply(t, ns, kafkaScaledObject("kwrong", c.Addr(), 1, fmt.Sprintf(kafkaAuth, "scaler", wrong)))
	// Ready has KEDA's words for a failing trigger; the source's own
	// error, naming the fields, is PushHealthy's message.
	eventually(t, shortWait, "Ready=False, PushHealthy=False naming sasl, username and password", func() (bool, error) {
		r := condition(t, ns, "kwrong", kedav1.ConditionReady)
		p := condition(t, ns, "kwrong", kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionFalse && p.Status == metav1.ConditionFalse &&
			strings.Contains(p.Message, "sasl, username and password"), fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	t.Logf("PushHealthy: %s", condition(t, ns, "kwrong", kedav1.ConditionPushHealthy).Message)
	so := scaledObject(t, ns, "kwrong")
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
}
