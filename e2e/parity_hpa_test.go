package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

const customHPASO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
  annotations:
    %[3]s
spec:
  scaleTargetRef:
    name: %[1]s
  advanced:
    horizontalPodAutoscalerConfig:
      name: %[2]s
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: jobs
      targetValue: "2"
`

func ownedBy(h *autoscalingv2.HorizontalPodAutoscaler, so *kedav1.ScaledObject) bool {
	ref := metav1.GetControllerOf(h)
	return ref != nil && ref.UID == so.UID && ref.Kind == "ScaledObject"
}

// TestParityHPARename: changing advanced.horizontalPodAutoscalerConfig.name
// deletes the old HPA and creates the new one.
func TestParityHPARename(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "renamed", 0)
	apply(t, ns, fmt.Sprintf(customHPASO, "renamed", "custom-a", `example.com/owner: "team-a"`))
	waitHPA(t, ns, "custom-a", "to exist", nil)
	eventually(t, shortWait, "status.hpaName custom-a", func() (bool, error) {
		n := scaledObject(t, ns, "renamed").Status.HpaName
		return n == "custom-a", fmt.Errorf("%q", n)
	})
	patchScaledObject(t, ns, "renamed", map[string]any{"spec": map[string]any{"advanced": map[string]any{
		"horizontalPodAutoscalerConfig": map[string]any{"name": "custom-b"}}}})
	so := scaledObject(t, ns, "renamed")
	waitHPA(t, ns, "custom-b", "to exist, owned by the ScaledObject", func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return ownedBy(h, so) })
	waitNoHPA(t, ns, "custom-a")
	eventually(t, shortWait, "status.hpaName custom-b", func() (bool, error) {
		n := scaledObject(t, ns, "renamed").Status.HpaName
		return n == "custom-b", fmt.Errorf("%q", n)
	})
	// Back to the default name.
	patchScaledObject(t, ns, "renamed", map[string]any{"spec": map[string]any{"advanced": nil}})
	waitHPA(t, ns, "keda-hpa-renamed", "to exist", nil)
	waitNoHPA(t, ns, "custom-b")
}

// legacyHPA is an HPA a user made for deployment name before moving to a
// ScaledObject.
func legacyHPA(t *testing.T, ns, name, deploy string, annotations map[string]string) {
	t.Helper()
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: annotations},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: deploy},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
				Name: "cpu", Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](80)},
			}}},
		},
	}
	if _, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(context.Background(), h, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestParityHPATransferOwnership: an HPA of someone else on the target
// refuses the ScaledObject (Ready=False naming it, the HPA untouched)
// until it asks for the HPA with transfer-hpa-ownership and its name: then
// the HPA is taken over (our controller reference and spec).
func TestParityHPATransferOwnership(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "adopter", 1)
	legacyHPA(t, ns, "legacy", "adopter", nil)
	apply(t, ns, fmt.Sprintf(pausedSO, "adopter", "jobs", 300, `example.com/owner: "team-a"`))
	c := waitCondition(t, ns, "adopter", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, "'legacy'") {
		t.Errorf("Ready message %q does not name the HPA", c.Message)
	}
	if getHPA(t, ns, "keda-hpa-adopter") != nil {
		t.Fatal("an HPA was created beside the user's")
	}
	if h := getHPA(t, ns, "legacy"); len(h.OwnerReferences) != 0 || h.Spec.Metrics[0].Type != autoscalingv2.ResourceMetricSourceType {
		t.Fatalf("the user's HPA was touched: %+v", h)
	}

	annotate(t, ns, "adopter", map[string]*string{kedav1.AnnotationTransferHPAOwnership: str("true")})
	patchScaledObject(t, ns, "adopter", map[string]any{"spec": map[string]any{"advanced": map[string]any{
		"horizontalPodAutoscalerConfig": map[string]any{"name": "legacy"}}}})
	waitCondition(t, ns, "adopter", kedav1.ConditionReady, metav1.ConditionTrue, "")
	so := scaledObject(t, ns, "adopter")
	waitHPA(t, ns, "legacy", "to be taken over", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return ownedBy(h, so) && len(h.Spec.Metrics) == 1 && h.Spec.Metrics[0].External != nil &&
			h.Spec.Metrics[0].External.Metric.Name == "s0-webhook-jobs" && h.Spec.MaxReplicas == 5
	})
	waitEvent(t, ns, "adopter", "HPAOwnershipTransferred", "legacy")
	if so.Status.HpaName != "legacy" {
		eventually(t, shortWait, "status.hpaName legacy", func() (bool, error) {
			n := scaledObject(t, ns, "adopter").Status.HpaName
			return n == "legacy", fmt.Errorf("%q", n)
		})
	}
	if getHPA(t, ns, "keda-hpa-adopter") != nil {
		t.Fatal("a second HPA was created")
	}
}

// TestParityHPAOwnershipValidationSkipped: an HPA annotated
// validations.keda.sh/hpa-ownership: "false" is not in the way.
func TestParityHPAOwnershipValidationSkipped(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "beside", 1)
	legacyHPA(t, ns, "tolerated", "beside", map[string]string{kedav1.AnnotationValidateHPAOwnership: "false"})
	apply(t, ns, fmt.Sprintf(pausedSO, "beside", "jobs", 300, `example.com/owner: "team-a"`))
	waitCondition(t, ns, "beside", kedav1.ConditionReady, metav1.ConditionTrue, "")
	waitHPA(t, ns, "keda-hpa-beside", "to exist", nil)
	if h := getHPA(t, ns, "tolerated"); len(h.OwnerReferences) != 0 {
		t.Fatalf("the user's HPA was touched: %+v", h.OwnerReferences)
	}
}
