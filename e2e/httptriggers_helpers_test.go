package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// assertMetricError asks the external metrics API (through the aggregator,
// as the HPA does) for metric of ScaledObject ns/name, and fails t unless
// the answer is an error that names field and does not show secret.
func assertMetricError(t *testing.T, ns, name, metric, field, secret string) {
	t.Helper()
	var msg string
	eventually(t, shortWait, "the metrics API to answer an error naming "+field, func() (bool, error) {
		raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, metric).
			Param("labelSelector", "scaledobject.keda.sh/name="+name).DoRaw(context.Background())
		if err == nil {
			return false, fmt.Errorf("answered %s", raw)
		}
		msg = err.Error() + string(raw)
		return strings.Contains(msg, field), fmt.Errorf("error %s", msg)
	})
	if strings.Contains(msg, secret) {
		t.Errorf("the metrics API's error shows the secret: %s", msg)
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

// assertRefused checks ScaledObject ns/name whose credentials its peer
// refuses (refusals counts them): Ready=False, its target left at 0, secret
// nowhere (see noSecretAnywhere), and the metrics API's error for metric
// naming field.
func assertRefused(t *testing.T, ns, name string, refusals func() int, secret, metric, field string) {
	t.Helper()
	waitCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonTriggerError)
	if refusals() == 0 {
		t.Fatal("the peer refused nothing")
	}
	if got := replicas(t, ns, name); got != 0 {
		t.Fatalf("%d replicas with refused credentials", got)
	}
	noSecretAnywhere(t, ns, name, secret)
	assertMetricError(t, ns, name, metric, field, secret)
}

// assertBadMetadata waits for ScaledObject ns/name to be Ready=False for
// its metadata, with a message containing text (the field, and the value
// when the metadata gave it).
func assertBadMetadata(t *testing.T, ns, name, text string) {
	t.Helper()
	c := waitCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, text) {
		t.Errorf("%s: Ready message %q does not contain %s", name, c.Message, text)
	}
}

// pollsZeroToNAndBack drives ScaledObject ns/name of a polled trigger whose
// peer answers set's value, with target 2: Ready and PushHealthy=False
// NotSupported, 1 wakes the target, 8 scales it to 4 through the HPA, 0
// returns it to 0; then its one metric is metric and secret is not in
// the gateway's logs.
func pollsZeroToNAndBack(t *testing.T, ns, name string, set func(float64), metric, secret string) {
	t.Helper()
	waitCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionTrue, "")
	pushHealthyIs(t, ns, name, metav1.ConditionFalse, "NotSupported")
	set(1)
	waitReplicas(t, ns, name, 1, shortWait)
	set(8)
	waitReplicas(t, ns, name, 4, longWait)
	set(0)
	waitReplicas(t, ns, name, 0, longWait)
	if got := scaledObject(t, ns, name).Status.ExternalMetricNames; len(got) != 1 || got[0] != metric {
		t.Errorf("externalMetricNames %v, want [%s]", got, metric)
	}
	if strings.Contains(gwLogs.String(), secret) {
		t.Fatal("the secret appears in the gateway's logs")
	}
}

// restartLosesNoActivation stops srv, the peer of ScaledObject ns/name
// (Ready=False follows), sets work (set(3)) while it is down, starts it
// again on the same port and waits for the target to wake.
func restartLosesNoActivation(t *testing.T, ns, name string, srv *sourcetest.HTTPServer, set func(float64)) {
	t.Helper()
	waitCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionTrue, "")
	srv.Stop()
	waitCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonTriggerError)
	set(3)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	// At least 1: the HPA may take it on to ceil(3 / threshold) before a
	// poll of exactly 1 sees it (a CI run saw 2).
	eventually(t, longWait, "deployment "+name+" activated", func() (bool, error) {
		got := replicas(t, ns, name)
		return got >= 1, fmt.Errorf("spec.replicas is %d", got)
	})
	waitCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionTrue, "")
}

// scaledTarget creates Deployment ns/name at 0 replicas, then the objects
// of manifest (its ScaledObject and what that needs).
func scaledTarget(t *testing.T, ns, name, manifest string) {
	t.Helper()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, manifest)
}
