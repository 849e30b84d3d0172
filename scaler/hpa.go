package scaler

import (
	"context"
	"fmt"
	"maps"
	"math"
	"sort"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// hpaMetric is one external metric of an HPA.
type hpaMetric struct {
	name   string
	target float64
	typ    autoscalingv2.MetricTargetType
}

// buildHPA returns the HPA KEDA would create for so (keda.md 1.5).
func buildHPA(so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, metrics []hpaMetric) *autoscalingv2.HorizontalPodAutoscaler {
	name := so.HPAName()
	labels := map[string]string{
		"app.kubernetes.io/name":       labelValue(name),
		"app.kubernetes.io/part-of":    so.Name,
		"app.kubernetes.io/managed-by": "pushscale",
	}
	excluded := map[string]bool{}
	for _, l := range strings.Split(so.Annotations[kedav1.AnnotationHPAExcludedLabels], ",") {
		excluded[strings.TrimSpace(l)] = true
	}
	for k, v := range so.Labels {
		if !excluded[k] {
			labels[k] = v
		}
	}
	var specs []autoscalingv2.MetricSpec
	for _, m := range metrics {
		target := autoscalingv2.MetricTarget{Type: m.typ}
		q := milliQuantity(m.target)
		if m.typ == autoscalingv2.ValueMetricType {
			target.Value = &q
		} else {
			target.Type = autoscalingv2.AverageValueMetricType
			target.AverageValue = &q
		}
		specs = append(specs, autoscalingv2.MetricSpec{
			Type: autoscalingv2.ExternalMetricSourceType,
			External: &autoscalingv2.ExternalMetricSource{
				Metric: autoscalingv2.MetricIdentifier{
					Name:     m.name,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{kedav1.LabelScaledObjectName: so.Name}},
				},
				Target: target,
			},
		})
	}
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].Type < specs[j].Type })
	minReplicas := so.Spec.HPAMinReplicas()
	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   so.Namespace,
			Labels:      labels,
			Annotations: maps.Clone(so.Annotations),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(so,
				kedav1.SchemeGroupVersion.WithKind(kedav1.KindScaledObject))},
		},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				APIVersion: gvkr.Group + "/" + gvkr.Version,
				Kind:       gvkr.Kind,
				Name:       so.Spec.ScaleTargetRef.Name,
			},
			MinReplicas: &minReplicas,
			MaxReplicas: so.Spec.MaxReplicaCountOrDefault(),
			Metrics:     specs,
		},
	}
	if gvkr.Group == "" {
		hpa.Spec.ScaleTargetRef.APIVersion = gvkr.Version
	}
	if a := so.Spec.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil && a.HorizontalPodAutoscalerConfig.Behavior != nil {
		hpa.Spec.Behavior = a.HorizontalPodAutoscalerConfig.Behavior.DeepCopy()
	}
	return hpa
}

// milliQuantity renders v with milli precision, as KEDA does.
func milliQuantity(v float64) resource.Quantity {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		v = 0
	}
	return *resource.NewMilliQuantity(int64(math.Round(v*1000)), resource.DecimalSI)
}

// labelValue truncates s to a valid label value (63 characters, ending
// alphanumeric).
func labelValue(s string) string {
	if len(s) > 63 {
		s = s[:63]
	}
	return strings.TrimRightFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
}

// ensureHPA creates want or updates the existing HPA of that name when it
// differs. An HPA of that name not owned by the ScaledObject is an error.
func ensureHPA(ctx context.Context, kube kubernetes.Interface, want *autoscalingv2.HorizontalPodAutoscaler) error {
	hpas := kube.AutoscalingV2().HorizontalPodAutoscalers(want.Namespace)
	got, err := hpas.Get(ctx, want.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := hpas.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create HPA %s: %w", want.Name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("get HPA %s: %w", want.Name, err)
	}
	owner := want.OwnerReferences[0]
	if ref := metav1.GetControllerOf(got); ref == nil || ref.UID != owner.UID {
		return fmt.Errorf("HPA %s exists and is not owned by this ScaledObject", want.Name)
	}
	if apiequality.Semantic.DeepEqual(got.Spec, want.Spec) &&
		apiequality.Semantic.DeepEqual(got.Labels, want.Labels) &&
		apiequality.Semantic.DeepEqual(got.Annotations, want.Annotations) {
		return nil
	}
	upd := got.DeepCopy()
	upd.Spec, upd.Labels, upd.Annotations = want.Spec, want.Labels, want.Annotations
	if _, err := hpas.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update HPA %s: %w", want.Name, err)
	}
	return nil
}
