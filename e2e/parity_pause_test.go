package e2e

import (
	"fmt"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// pausedSO is a webhook ScaledObject (name, stream, cooldownPeriod) with
// the annotations given as YAML lines (KEDA's documented shape).
const pausedSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
  annotations:
    %[4]s
spec:
  scaleTargetRef:
    name: %[1]s
  minReplicaCount: 0
  maxReplicaCount: 5
  cooldownPeriod: %[3]d
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: %[2]s
      targetValue: "2"
`

// TestParityPaused: autoscaling.keda.sh/paused deletes the HPA and freezes
// the replicas (no scale to zero after cooldown), sets Paused=True and
// keda_scaled_object_paused; removing it brings the HPA back and scaling
// resumes.
func TestParityPaused(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "frozen", 0)
	apply(t, ns, fmt.Sprintf(pausedSO, "frozen", "jobs", 1, `example.com/owner: "team-a"`))
	postOK(t, ns, "jobs", `{"value": 1}`)
	waitReplicas(t, ns, "frozen", 1, shortWait)
	waitHPA(t, ns, "keda-hpa-frozen", "to exist", nil)

	annotate(t, ns, "frozen", map[string]*string{kedav1.AnnotationPaused: str("true")})
	waitNoHPA(t, ns, "keda-hpa-frozen")
	c := waitCondition(t, ns, "frozen", kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledObjectPaused)
	if c.Message != "ScaledObject is paused" {
		t.Errorf("Paused message %q", c.Message)
	}
	labels := fmt.Sprintf(`namespace="%s",scaledObject="frozen"`, ns)
	waitGauge(t, "keda_scaled_object_paused", labels, 1)
	// Inactive past its 1 s cooldown, and a value the HPA would scale
	// to 4 for: nothing moves.
	postOK(t, ns, "jobs", `{"value": 0}`)
	holdReplicas(t, ns, "frozen", 1)
	postOK(t, ns, "jobs", `{"value": 8}`)
	holdReplicas(t, ns, "frozen", 1)
	if getHPA(t, ns, "keda-hpa-frozen") != nil {
		t.Fatal("an HPA came back while paused")
	}

	postOK(t, ns, "jobs", `{"value": 0}`)
	annotate(t, ns, "frozen", map[string]*string{kedav1.AnnotationPaused: nil})
	waitHPA(t, ns, "keda-hpa-frozen", "to be back", nil)
	c = waitCondition(t, ns, "frozen", kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledObjectUnpaused)
	if c.Message != "pause annotation removed for ScaledObject" {
		t.Errorf("Paused message %q", c.Message)
	}
	waitGauge(t, "keda_scaled_object_paused", labels, 0)
	waitReplicas(t, ns, "frozen", 0, shortWait)
}

// TestParityPausedFalseDoesNotPause: "false" is the one way to keep the
// annotation without pausing.
func TestParityPausedFalseDoesNotPause(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "awake", 0)
	apply(t, ns, fmt.Sprintf(pausedSO, "awake", "jobs", 300, `autoscaling.keda.sh/paused: "false"`))
	postOK(t, ns, "jobs", `{"value": 1}`)
	waitReplicas(t, ns, "awake", 1, shortWait)
	waitHPA(t, ns, "keda-hpa-awake", "to exist", nil)
	waitCondition(t, ns, "awake", kedav1.ConditionPaused, metav1.ConditionFalse, "")
}

// TestParityPausedReplicas: paused-replicas scales the target to the count
// once (a manual change afterwards stays), records
// status.pausedReplicaCount and deletes the HPA; removing it clears the
// count and scaling resumes.
func TestParityPausedReplicas(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "held", 0)
	apply(t, ns, fmt.Sprintf(pausedSO, "held", "jobs", 1, `example.com/owner: "team-a"`))
	waitHPA(t, ns, "keda-hpa-held", "to exist", nil)

	annotate(t, ns, "held", map[string]*string{kedav1.AnnotationPausedReplicas: str("3")})
	waitReplicas(t, ns, "held", 3, shortWait)
	waitNoHPA(t, ns, "keda-hpa-held")
	waitCondition(t, ns, "held", kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledObjectPaused)
	eventually(t, shortWait, "status.pausedReplicaCount 3", func() (bool, error) {
		p := scaledObject(t, ns, "held").Status.PausedReplicaCount
		return p != nil && *p == 3, fmt.Errorf("%v", p)
	})
	scaleDeployment(t, ns, "held", 2)
	postOK(t, ns, "jobs", `{"value": 0}`)
	holdReplicas(t, ns, "held", 2)

	annotate(t, ns, "held", map[string]*string{kedav1.AnnotationPausedReplicas: nil})
	waitCondition(t, ns, "held", kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledObjectUnpaused)
	eventually(t, shortWait, "status.pausedReplicaCount cleared", func() (bool, error) {
		p := scaledObject(t, ns, "held").Status.PausedReplicaCount
		return p == nil, fmt.Errorf("still %d", deref32(p))
	})
	waitHPA(t, ns, "keda-hpa-held", "to be back", nil)
	waitReplicas(t, ns, "held", 0, shortWait)
}

// TestParityPausedScaleIn: paused-scale-in disables the HPA's scale down
// and the scale to zero, while the object keeps running (Paused=True);
// removing it scales in again.
func TestParityPausedScaleIn(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "noin", 0)
	apply(t, ns, fmt.Sprintf(pausedSO, "noin", "jobs", 1, `example.com/owner: "team-a"`))
	postOK(t, ns, "jobs", `{"value": 1}`)
	waitReplicas(t, ns, "noin", 1, shortWait)

	annotate(t, ns, "noin", map[string]*string{kedav1.AnnotationPausedScaleIn: str("true")})
	waitHPA(t, ns, "keda-hpa-noin", "to have scaleDown Disabled", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Spec.Behavior != nil && selectPolicy(h.Spec.Behavior.ScaleDown) == autoscalingv2.DisabledPolicySelect &&
			selectPolicy(h.Spec.Behavior.ScaleUp) != autoscalingv2.DisabledPolicySelect
	})
	waitCondition(t, ns, "noin", kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledObjectPaused)
	waitGauge(t, "keda_scaled_object_paused", fmt.Sprintf(`namespace="%s",scaledObject="noin"`, ns), 1)
	postOK(t, ns, "jobs", `{"value": 0}`)
	holdReplicas(t, ns, "noin", 1)

	annotate(t, ns, "noin", map[string]*string{kedav1.AnnotationPausedScaleIn: nil})
	waitHPA(t, ns, "keda-hpa-noin", "to scale down again", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Spec.Behavior == nil || selectPolicy(h.Spec.Behavior.ScaleDown) != autoscalingv2.DisabledPolicySelect
	})
	waitCondition(t, ns, "noin", kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledObjectUnpaused)
	waitReplicas(t, ns, "noin", 0, shortWait)
}

// TestParityPausedScaleOut: paused-scale-out disables the HPA's scale up
// and the activation from zero (the object is still Active); removing it
// activates.
func TestParityPausedScaleOut(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "noout", 0)
	apply(t, ns, fmt.Sprintf(pausedSO, "noout", "jobs", 300, `autoscaling.keda.sh/paused-scale-out: "true"`))
	waitHPA(t, ns, "keda-hpa-noout", "to have scaleUp Disabled", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Spec.Behavior != nil && selectPolicy(h.Spec.Behavior.ScaleUp) == autoscalingv2.DisabledPolicySelect
	})
	waitCondition(t, ns, "noout", kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledObjectPaused)
	postOK(t, ns, "jobs", `{"value": 5}`)
	waitCondition(t, ns, "noout", kedav1.ConditionActive, metav1.ConditionTrue, kedav1.ReasonScalerActive)
	holdReplicas(t, ns, "noout", 0)

	annotate(t, ns, "noout", map[string]*string{kedav1.AnnotationPausedScaleOut: nil})
	// Activated: 1, and the HPA (value 5) may take it further at once.
	eventually(t, shortWait, "deployment noout to be activated", func() (bool, error) {
		n := replicas(t, ns, "noout")
		return n >= 1, fmt.Errorf("spec.replicas is %d", n)
	})
	waitCondition(t, ns, "noout", kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledObjectUnpaused)
	waitHPA(t, ns, "keda-hpa-noout", "to scale up again", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return h.Spec.Behavior == nil || selectPolicy(h.Spec.Behavior.ScaleUp) != autoscalingv2.DisabledPolicySelect
	})
}
