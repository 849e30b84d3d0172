package scaler

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestSlim(t *testing.T) {
	ann := map[string]string{lastApplied: `{"a":"whole copy"}`, kedav1.AnnotationPaused: "true"}
	so := &kedav1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "a", Annotations: ann,
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}}}
	out, err := slim(so)
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*kedav1.ScaledObject)
	if got.ManagedFields != nil || len(got.Annotations) != 1 || got.Annotations[kedav1.AnnotationPaused] != "true" {
		t.Errorf("slimmed object: managedFields %v, annotations %v", got.ManagedFields, got.Annotations)
	}
	if len(ann) != 2 {
		t.Error("the caller's annotation map was changed")
	}
	h := &autoscalingv2.HorizontalPodAutoscaler{Status: autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 3,
		Conditions: []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.ScalingActive, Message: "long"}}}}
	if out, _ := slim(h); out.(*autoscalingv2.HorizontalPodAutoscaler).Status.Conditions != nil || h.Status.CurrentReplicas != 0 {
		t.Errorf("HPA status kept: %+v", h.Status)
	}
	if _, err := slim("not an object"); err != nil {
		t.Error(err)
	}
}
