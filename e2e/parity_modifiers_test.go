package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// modifiersSO has two webhook triggers named a and b (streams a and b) and
// advanced.scalingModifiers with formula %[2]s.
const modifiersSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  maxReplicaCount: 5
  cooldownPeriod: 2
  advanced:
    scalingModifiers:
      formula: %[2]q
      target: "2"
      activationTarget: "3"
  triggers:
  - type: webhook
    name: a
    metadata:
      allowUnauthenticated: "true"
      stream: %[3]s
      targetValue: "100"
      activationTargetValue: "100"
  - type: webhook
    name: b
    metadata:
      allowUnauthenticated: "true"
      stream: %[4]s
      targetValue: "100"
`

// TestParityScalingModifiers: two webhook triggers a and b combined by the
// formula "a + b". The HPA carries composite-metric alone, with the
// modifiers' target; the object activates when a + b > activationTarget 3
// (strictly), whatever the triggers' own thresholds (a's is 100); the HPA
// sizes 1→N from the composite value (a + b over target 2); a + b = 0
// returns it to 0. A neighbour with a formula naming an unknown trigger is
// Ready=False naming spec.advanced.scalingModifiers.formula, and its
// Deployment and HPA are left alone.
func TestParityScalingModifiers(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	createDeployment(t, ns, "mods", 0)
	createDeployment(t, ns, "broken", 1)
	apply(t, ns, fmt.Sprintf(modifiersSO, "broken", "a + c", "xs", "ys"))
	apply(t, ns, fmt.Sprintf(modifiersSO, "mods", "a + b", "a", "b"))

	c := waitCondition(t, ns, "broken", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, `spec.advanced.scalingModifiers.formula "a + c"`) || !strings.Contains(c.Message, "unknown name c") {
		t.Errorf("Ready message %q does not name the formula and the unknown trigger", c.Message)
	}

	waitCondition(t, ns, "mods", kedav1.ConditionReady, metav1.ConditionTrue, kedav1.ReasonScaledObjectReady)
	h := waitHPA(t, ns, "keda-hpa-mods", "with composite-metric alone", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		if len(h.Spec.Metrics) != 1 || h.Spec.Metrics[0].External == nil {
			return false
		}
		e := h.Spec.Metrics[0].External
		return e.Metric.Name == "composite-metric" && e.Target.Type == autoscalingv2.AverageValueMetricType &&
			e.Target.AverageValue != nil && e.Target.AverageValue.MilliValue() == 2000
	})
	if sel := h.Spec.Metrics[0].External.Metric.Selector; sel == nil || sel.MatchLabels[kedav1.LabelScaledObjectName] != "mods" {
		t.Errorf("composite-metric selector %+v", sel)
	}
	eventually(t, shortWait, "status with the triggers' metric names and compositeScalerName", func() (bool, error) {
		st := scaledObject(t, ns, "mods").Status
		return strings.Join(st.ExternalMetricNames, ",") == "s0-webhook-a,s1-webhook-b" && st.CompositeScalerName == "composite-metric",
			fmt.Errorf("externalMetricNames %v compositeScalerName %q", st.ExternalMetricNames, st.CompositeScalerName)
	})

	// a + b = 3 is not above activationTarget 3.
	postOK(t, ns, "a", `{"value": 2}`)
	postOK(t, ns, "b", `{"value": 1}`)
	holdReplicas(t, ns, "mods", 0)
	// 4 > 3: active, although a (2) is far below its own threshold (100).
	postOK(t, ns, "b", `{"value": 2}`)
	waitReplicas(t, ns, "mods", 1, shortWait)
	waitEvent(t, ns, "mods", "KEDAScaleTargetActivated", "triggered by composite-metric")
	waitCondition(t, ns, "mods", kedav1.ConditionActive, metav1.ConditionTrue, kedav1.ReasonScalerActive)

	// 4 + 4 = 8 over target 2: the HPA wants 4 replicas.
	postOK(t, ns, "a", `{"value": 4}`)
	postOK(t, ns, "b", `{"value": 4}`)
	waitReplicas(t, ns, "mods", 4, longWait)
	raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, "composite-metric").
		Param("labelSelector", "scaledobject.keda.sh/name=mods").DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), `"value":"8"`) || !strings.Contains(string(raw), `"metricName":"composite-metric"`) {
		t.Fatalf("composite-metric through the aggregator: %v %s", err, raw)
	}

	waitGauge(t, "keda_scaler_metrics_value",
		fmt.Sprintf(`metric="composite-metric",namespace="%s",scaledObject="mods",scaler="composite-metric",triggerIndex="0",type="scaledobject"`, ns), 8)

	// a + b = 0: back to 0 after the cooldown.
	postOK(t, ns, "a", `{"value": 0}`)
	postOK(t, ns, "b", `{"value": 0}`)
	waitReplicas(t, ns, "mods", 0, longWait)

	// The broken neighbour was never touched.
	if got := replicas(t, ns, "broken"); got != 1 {
		t.Errorf("broken's Deployment went to %d replicas", got)
	}
	if getHPA(t, ns, "keda-hpa-broken") != nil {
		t.Error("an HPA was created for the broken ScaledObject")
	}
	// Fixed, it works.
	patchScaledObject(t, ns, "broken", map[string]any{"spec": map[string]any{"advanced": map[string]any{
		"scalingModifiers": map[string]any{"formula": "a * 2"}}}})
	waitCondition(t, ns, "broken", kedav1.ConditionReady, metav1.ConditionTrue, kedav1.ReasonScaledObjectReady)
	waitHPA(t, ns, "keda-hpa-broken", "with composite-metric", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return len(h.Spec.Metrics) == 1 && h.Spec.Metrics[0].External != nil && h.Spec.Metrics[0].External.Metric.Name == "composite-metric"
	})
}

// TestParityScalingModifiersValidation: KEDA's admission checks of
// scalingModifiers, each Ready=False ScaledObjectCheckFailed naming the
// field, the target left alone.
func TestParityScalingModifiersValidation(t *testing.T) {
	ns := newNamespace(t)
	cases := []struct {
		name, formula, target, field string
	}{
		{name: "no-target", formula: "a + b", target: "", field: `spec.advanced.scalingModifiers.target "": required with a formula`},
		{name: "zero-target", formula: "a + b", target: "0", field: `spec.advanced.scalingModifiers.target "0": must be a number greater than 0`},
		{name: "boolean", formula: "a > b", target: "1", field: `spec.advanced.scalingModifiers.formula "a > b": must yield a number`},
		{name: "syntax", formula: "a +", target: "1", field: `spec.advanced.scalingModifiers.formula "a +": does not compile`},
	}
	for _, tc := range cases {
		createDeployment(t, ns, tc.name, 2)
		apply(t, ns, fmt.Sprintf(`
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  advanced:
    scalingModifiers:
      formula: %[2]q
      target: %[3]q
  triggers:
  - type: webhook
    name: a
    metadata:
      allowUnauthenticated: "true"
      stream: a
      targetValue: "1"
  - type: webhook
    name: b
    metadata:
      allowUnauthenticated: "true"
      stream: b
      targetValue: "1"
`, tc.name, tc.formula, tc.target))
	}
	for _, tc := range cases {
		c := waitCondition(t, ns, tc.name, kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
		if !strings.Contains(c.Message, tc.field) {
			t.Errorf("%s: Ready message %q, want it to contain %q", tc.name, c.Message, tc.field)
		}
	}
	for _, tc := range cases {
		if got := replicas(t, ns, tc.name); got != 2 {
			t.Errorf("%s: the Deployment went to %d replicas", tc.name, got)
		}
		if getHPA(t, ns, "keda-hpa-"+tc.name) != nil {
			t.Errorf("%s: an HPA was created", tc.name)
		}
	}
}
