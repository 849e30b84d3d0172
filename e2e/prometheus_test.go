package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/prometheus/promtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// promSO is KEDA's prometheus shape with a bearer token from a
// TriggerAuthentication.
const promSO = `
apiVersion: v1
kind: Secret
metadata:
  name: prom-auth
stringData:
  token: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: prom-auth
spec:
  secretTargetRef:
  - parameter: bearerToken
    name: prom-auth
    key: token
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: 1
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: prometheus
    metadata:
      serverAddress: %[2]s
      query: sum(jobs_waiting{queue="orders"})
      threshold: "%[4]s"
      authModes: bearer
    authenticationRef:
      name: prom-auth
`

// promTarget creates the Deployment name and its ScaledObject reading srv
// with token.
func promTarget(t *testing.T, ns, name string, srv *sourcetest.HTTPServer, token, threshold string) {
	t.Helper()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(promSO, name, srv.URL(), token, threshold))
}

// TestPrometheusScalesZeroToNAndBack: a sample above 0 wakes the target
// (polled every pollingInterval: Prometheus pushes nothing), a larger one
// scales it 1→N through the HPA, 0 returns it to 0.
func TestPrometheusScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	const token = "pr0m-e2e-bearer-t0ken"
	api := &promtest.API{Bearer: token}
	api.Set(0)
	srv := sourcetest.StartHTTP(t, api)
	promTarget(t, ns, "prom-app", srv, token, "2")
	waitCondition(t, ns, "prom-app", kedav1.ConditionReady, metav1.ConditionTrue, "")
	pushHealthyIs(t, ns, "prom-app", metav1.ConditionFalse, "NotSupported")
	api.Set(1)
	waitReplicas(t, ns, "prom-app", 1, shortWait)
	api.Set(8)
	waitReplicas(t, ns, "prom-app", 4, longWait) // 8 / threshold 2
	api.Set(0)
	waitReplicas(t, ns, "prom-app", 0, longWait)
	if got := scaledObject(t, ns, "prom-app").Status.ExternalMetricNames; len(got) != 1 || got[0] != "s0-prometheus" {
		t.Errorf("externalMetricNames %v", got)
	}
	if q := api.Queries(); len(q) == 0 || q[0].Get("query") != `sum(jobs_waiting{queue="orders"})` {
		t.Errorf("queries %v", q)
	}
	if strings.Contains(gwLogs.String(), token) {
		t.Fatal("the bearer token appears in the gateway's logs")
	}
}

// TestPrometheusRestartLosesNoActivation: work that appears while the
// server is down wakes the target once it answers again on the same port.
func TestPrometheusRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	api := &promtest.API{Bearer: "tok-restart"}
	api.Set(0)
	srv := sourcetest.StartHTTP(t, api)
	promTarget(t, ns, "prom-restart", srv, "tok-restart", "2")
	waitCondition(t, ns, "prom-restart", kedav1.ConditionReady, metav1.ConditionTrue, "")
	srv.Stop()
	waitCondition(t, ns, "prom-restart", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonTriggerError)
	api.Set(3)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "prom-restart", 1, longWait)
	waitCondition(t, ns, "prom-restart", kedav1.ConditionReady, metav1.ConditionTrue, "")
}

// TestPrometheusRefusedCredentials: a wrong token is Ready=False, with the
// token nowhere in status, Events or logs, and the refusal naming the
// bearerToken parameter where the metric is asked for.
func TestPrometheusRefusedCredentials(t *testing.T) {
	ns := newNamespace(t)
	api := &promtest.API{Bearer: "the-right-pr0m-token"}
	api.Set(5)
	srv := sourcetest.StartHTTP(t, api)
	const wrong = "wr0ng-pr0m-t0ken-value"
	promTarget(t, ns, "prom-refused", srv, wrong, "2")
	waitCondition(t, ns, "prom-refused", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonTriggerError)
	if api.Refusals() == 0 {
		t.Fatal("the server refused nothing")
	}
	if got := replicas(t, ns, "prom-refused"); got != 0 {
		t.Fatalf("%d replicas with refused credentials", got)
	}
	noSecretAnywhere(t, ns, "prom-refused", wrong)
	assertMetricError(t, ns, "prom-refused", "s0-prometheus", "bearerToken", wrong)
}

// TestPrometheusBadMetadata: a threshold of 0 is Ready=False naming the
// field and the value.
func TestPrometheusBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	srv := sourcetest.StartHTTP(t, &promtest.API{})
	promTarget(t, ns, "prom-bad", srv, "unused-token", "0")
	c := waitCondition(t, ns, "prom-bad", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, `threshold "0"`) {
		t.Errorf("Ready message %q does not name threshold", c.Message)
	}
}

// noSecretAnywhere fails t when secret appears in the status of
// ScaledObject ns/name, in an Event of ns or in the gateway's logs.
func noSecretAnywhere(t *testing.T, ns, name, secret string) {
	t.Helper()
	if s := fmt.Sprintf("%+v", scaledObject(t, ns, name).Status); strings.Contains(s, secret) {
		t.Errorf("the secret appears in the status: %s", s)
	}
	if strings.Contains(gwLogs.String(), secret) {
		t.Error("the secret appears in the gateway's logs")
	}
	events, err := env.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		if strings.Contains(ev.Message, secret) {
			t.Errorf("the secret appears in an Event: %s", ev.Message)
		}
	}
}
