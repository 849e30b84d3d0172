package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestParityTwoScaledObjectsOneTarget: the older of two ScaledObjects on
// one Deployment holds it; the other is Ready=False naming the holder and
// touches nothing (its trigger is not even watched, it has no HPA); when
// the holder is deleted, the other takes over.
func TestParityTwoScaledObjectsOneTarget(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "shared", 0)
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: first
spec:
  scaleTargetRef:
    name: shared
  cooldownPeriod: 1
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: first
      targetValue: "2"
`)
	waitCondition(t, ns, "first", kedav1.ConditionReady, metav1.ConditionTrue, "")
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: second
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: shared
  cooldownPeriod: 1
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: second
      targetValue: "2"
`)
	c := waitCondition(t, ns, "second", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, "'first'") || !strings.Contains(c.Message, "'shared'") {
		t.Errorf("Ready message %q does not name the holder and the workload", c.Message)
	}
	waitEvent(t, ns, "second", kedav1.ReasonScaledObjectCheckFailed, "'first'")
	if code, body := post(t, ns, "second", "application/json", `{"value": 1}`); code != http.StatusNotFound {
		t.Fatalf("the second ScaledObject's stream answered %d %s: its trigger is watched", code, body)
	}
	if getHPA(t, ns, "keda-hpa-second") != nil {
		t.Fatal("the second ScaledObject has an HPA")
	}
	postOK(t, ns, "first", `{"value": 1}`)
	waitReplicas(t, ns, "shared", 1, shortWait)
	waitHPA(t, ns, "keda-hpa-first", "to exist", nil)

	err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Delete(context.Background(), "first", metav1.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Its HPA goes at once, not when the garbage collector gets to it.
	waitNoHPA(t, ns, "keda-hpa-first")
	waitCondition(t, ns, "second", kedav1.ConditionReady, metav1.ConditionTrue, "")
	waitHPA(t, ns, "keda-hpa-second", "to exist", nil)
	postOK(t, ns, "second", `{"value": 0}`)
	waitReplicas(t, ns, "shared", 0, shortWait)
	postOK(t, ns, "second", `{"value": 3}`)
	waitReplicas(t, ns, "shared", 1, shortWait)
	if so := scaledObject(t, ns, "second"); so.Status.HpaName != "keda-hpa-second" {
		t.Fatalf("status.hpaName %q", so.Status.HpaName)
	}
}
