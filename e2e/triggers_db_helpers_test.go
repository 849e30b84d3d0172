package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// deploymentAt0 creates Deployment ns/name with no replicas.
func deploymentAt0(t *testing.T, ns, name string) {
	t.Helper()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// noSecretShown fails t when secret appears in ScaledObject ns/name's
// status, the Events of ns or the gateway's logs.
func noSecretShown(t *testing.T, ns, name, secret string) {
	t.Helper()
	so := scaledObject(t, ns, name)
	events, err := env.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dump := fmt.Sprintf("%+v %+v %s", so.Status, events.Items, gwLogs.String()); strings.Contains(dump, secret) {
		t.Error("the password appears in the status, an Event or the gateway's logs")
	}
}

// readyAndPushed waits (shortWait) until ScaledObject ns/name is Ready and
// PushHealthy=True with reason.
func readyAndPushed(t *testing.T, ns, name, reason string) {
	t.Helper()
	eventually(t, shortWait, "Ready and PushHealthy "+reason, func() (bool, error) {
		so := scaledObject(t, ns, name)
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue && p.Reason == reason,
			fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
}

// metricNamedNoSecret fails t unless ScaledObject ns/name's first external
// metric is metric, or when secret is in the gateway's logs.
func metricNamedNoSecret(t *testing.T, ns, name, metric, secret string) {
	t.Helper()
	if got := scaledObject(t, ns, name).Status.ExternalMetricNames; len(got) == 0 || got[0] != metric {
		t.Fatalf("externalMetricNames %v, want %s first", got, metric)
	}
	if strings.Contains(gwLogs.String(), secret) {
		t.Fatal("the password appears in the gateway's logs")
	}
}
