package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// gatewayCounter reads a counter without labels from the gateway's /metrics.
func gatewayCounter(t *testing.T, name string) float64 {
	t.Helper()
	v, ok := gatewaySample(t, name+" ")
	if !ok {
		t.Fatalf("/metrics has no %s", name)
	}
	return v
}

// TestValueChangesDoNotWriteStatus: values that change while a
// ScaledObject stays inactive cause no status writes (status is written
// on transitions only), so a busy stream costs the apiserver nothing.
func TestValueChangesDoNotWriteStatus(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "quiet", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: quiet
spec:
  scaleTargetRef: {name: quiet}
  triggers:
  - type: webhook
    metadata: {allowUnauthenticated: "true", stream: busy, targetValue: "1000000", activationTargetValue: "1000000"}
`)
	postOK(t, ns, "busy", `{"value": 1}`)
	// Wait until the object has settled (Ready and PushHealthy written).
	eventually(t, shortWait, "PushHealthy written", func() (bool, error) {
		so := scaledObject(t, ns, "quiet")
		c, ok := so.Status.Conditions.GetCondition("PushHealthy")
		return ok && c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", so.Status.Conditions)
	})
	before := gatewayCounter(t, "pushscale_status_writes_total")
	for i := range 40 { // within the test gateway's burst of 50 per stream
		if code, body := post(t, ns, "busy", "application/json", fmt.Sprintf(`{"value": %d}`, i+2)); code != http.StatusAccepted {
			t.Fatalf("POST: %d %s", code, body)
		}
	}
	// Let the activator catch up with the last value, then count.
	eventually(t, shortWait, "the last value in the metric", func() (bool, error) {
		raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, "s0-webhook-busy").
			Param("labelSelector", "scaledobject.keda.sh/name=quiet").DoRaw(ctx)
		return err == nil && strings.Contains(string(raw), `"value":"41"`), fmt.Errorf("%v %s", err, raw)
	})
	// Other tests run in parallel namespaces and write their own status:
	// bound the writes loosely, far below one per value change.
	if writes := gatewayCounter(t, "pushscale_status_writes_total") - before; writes > 10 {
		t.Fatalf("40 value changes of an inactive ScaledObject caused %v status writes", writes)
	}
}
