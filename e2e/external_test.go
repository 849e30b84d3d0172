package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/external/externaltest"
)

// externalSO is KEDA's external-push shape, pointed at a scaler the test
// runs on a loopback port.
const externalSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: %[3]d
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: external-push
    metadata:
      scalerAddress: %[2]s
      queue: jobs
`

// TestExternalPushScalesZeroToNAndBack: an external-push scaler's stream
// wakes the Deployment (pollingInterval 300 s: nothing else could within
// the test), its metric scales it 1→N through the HPA, its false returns
// it to 0 after the cooldown (KEDA would wait for its next poll); then the
// scaler restarts, its activity changes while it is away, and the read
// after the stream is open again wakes the Deployment: no activation lost.
func TestExternalPushScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := externaltest.Start(t, externaltest.Options{MetricName: "Jobs", Target: 2})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "ext-consumer", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(externalSO, "ext-consumer", srv.Addr(), 300))
	eventually(t, shortWait, "Ready and PushHealthy", func() (bool, error) {
		so := scaledObject(t, ns, "ext-consumer")
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue && p.Reason == "Subscribed", fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	if names := scaledObject(t, ns, "ext-consumer").Status.ExternalMetricNames; len(names) != 1 || names[0] != "s0-Jobs" {
		t.Fatalf("externalMetricNames %v, want [s0-Jobs] (the scaler's name, case kept)", names)
	}

	start := time.Now()
	srv.Push(1, true)
	waitReplicas(t, ns, "ext-consumer", 1, shortWait)
	t.Logf("StreamIsActive true → 1 replica: %s", time.Since(start))

	srv.Push(8, true) // 8 / target 2: the HPA, which lower-cases the name in its requests, asks for 4
	waitReplicas(t, ns, "ext-consumer", 4, longWait)

	srv.Push(0, false)
	waitReplicas(t, ns, "ext-consumer", 0, longWait)
	for _, n := range srv.MetricNames() {
		if n != "Jobs" {
			t.Fatalf("GetMetrics asked for %q, want the scaler's name without the prefix", n)
		}
	}

	srv.Stop()
	pushHealthyIs(t, ns, "ext-consumer", metav1.ConditionFalse, "SubscriptionLost")
	srv.Set(1, true) // nothing is pushed: the scaler is away
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "ext-consumer", 1, longWait)
	pushHealthyIs(t, ns, "ext-consumer", metav1.ConditionTrue, "Subscribed")
}

// TestExternalBadTLSIsNotReady: TLS material that does not parse makes the
// ScaledObject Ready=False naming the TriggerAuthentication parameter, and
// the material appears nowhere.
func TestExternalBadTLSIsNotReady(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const junk = "not-a-certificate-s3cret"
	srv := externaltest.Start(t, externaltest.Options{})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "ext-tls", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata:
  name: scaler-tls
stringData:
  ca: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: scaler-tls
spec:
  secretTargetRef:
  - parameter: caCert
    name: scaler-tls
    key: ca
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  triggers:
  - type: external-push
    metadata:
      scalerAddress: %[2]s
      enableTLS: "true"
    authenticationRef:
      name: scaler-tls
`, "ext-tls", srv.Addr(), junk))
	var ready kedav1.Condition
	eventually(t, shortWait, "Ready=False naming caCert", func() (bool, error) {
		ready = condition(t, ns, "ext-tls", kedav1.ConditionReady)
		return ready.Status == metav1.ConditionFalse && strings.Contains(ready.Message, "caCert"), fmt.Errorf("%+v", ready)
	})
	if strings.Contains(ready.Message, junk) {
		t.Errorf("Ready shows the material: %q", ready.Message)
	}
	events, err := env.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events.Items {
		if strings.Contains(e.Message, junk) {
			t.Errorf("Event shows the material: %q", e.Message)
		}
	}
	if strings.Contains(gwLogs.String(), junk) {
		t.Error("the TLS material appears in the gateway's logs")
	}
	if n := srv.Calls("GetMetricSpec") + srv.Streams(); n != 0 {
		t.Errorf("the scaler was called %d times with bad TLS material", n)
	}
}
