package scaler

import (
	"context"
	"errors"
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

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// hpaMetric is one external metric of an HPA.
type hpaMetric struct {
	name   string
	target float64
	typ    autoscalingv2.MetricTargetType
}

// buildHPA returns the HPA KEDA would create for so (keda.md 1.5): one
// External metric per external trigger, the cpu and memory triggers'
// resource metrics, sorted by source type as KEDA sorts them
// (ContainerResource < External < Resource); paused-scale-in and
// paused-scale-out disable the HPA's scale down and scale up.
func buildHPA(so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, metrics []hpaMetric, resources []autoscalingv2.MetricSpec, ctl controls) *autoscalingv2.HorizontalPodAutoscaler {
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
	for _, r := range resources {
		specs = append(specs, *r.DeepCopy())
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
	disabled := autoscalingv2.DisabledPolicySelect
	if ctl.pauseScaleIn {
		if hpa.Spec.Behavior == nil {
			hpa.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
		}
		if hpa.Spec.Behavior.ScaleDown == nil {
			hpa.Spec.Behavior.ScaleDown = &autoscalingv2.HPAScalingRules{}
		}
		hpa.Spec.Behavior.ScaleDown.SelectPolicy = &disabled
	}
	if ctl.pauseScaleOut {
		if hpa.Spec.Behavior == nil {
			hpa.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
		}
		if hpa.Spec.Behavior.ScaleUp == nil {
			hpa.Spec.Behavior.ScaleUp = &autoscalingv2.HPAScalingRules{}
		}
		hpa.Spec.Behavior.ScaleUp.SelectPolicy = &disabled
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

// errHPANotOwned means an HPA of the wanted name exists and belongs to
// someone else.
var errHPANotOwned = errors.New("exists and is not owned by this ScaledObject")

// hpaUpToDate reports whether got already is want: the apiserver fills in
// the fields of a behavior left unset, so want's unset fields are ignored
// (semantic derivative), except a select policy, which when unset is Max:
// that is how removing paused-scale-in or -out shows.
func hpaUpToDate(got, want *autoscalingv2.HorizontalPodAutoscaler) bool {
	w := want.Spec.DeepCopy()
	if b := w.Behavior; b != nil {
		maxPolicy := autoscalingv2.MaxChangePolicySelect
		for _, r := range []**autoscalingv2.HPAScalingRules{&b.ScaleUp, &b.ScaleDown} {
			if *r == nil {
				*r = &autoscalingv2.HPAScalingRules{}
			}
			if (*r).SelectPolicy == nil {
				(*r).SelectPolicy = &maxPolicy
			}
		}
	}
	return len(got.Spec.Metrics) == len(w.Metrics) &&
		(got.Spec.Behavior == nil) == (w.Behavior == nil) &&
		apiequality.Semantic.DeepDerivative(*w, got.Spec) &&
		apiequality.Semantic.DeepEqual(got.Labels, want.Labels) &&
		apiequality.Semantic.DeepEqual(got.Annotations, want.Annotations)
}

// ensureHPA creates want, or updates the HPA of that name when it differs.
// An HPA of that name controlled by someone else is an error wrapping
// errHPANotOwned unless adopt is set: it is then taken over (our spec and
// our controller reference). It reports whether it adopted one.
func (c *Controller) ensureHPA(ctx context.Context, want *autoscalingv2.HorizontalPodAutoscaler, adopt bool) (bool, error) {
	hpas := c.kube.AutoscalingV2().HorizontalPodAutoscalers(want.Namespace)
	got, err := c.hpaLister.HorizontalPodAutoscalers(want.Namespace).Get(want.Name)
	if apierrors.IsNotFound(err) {
		_, err := hpas.Create(ctx, want, metav1.CreateOptions{})
		if err == nil {
			return false, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("create HPA %s: %w", want.Name, err)
		}
		// The cache has not seen it yet.
		if got, err = hpas.Get(ctx, want.Name, metav1.GetOptions{}); err != nil {
			return false, fmt.Errorf("get HPA %s: %w", want.Name, err)
		}
	} else if err != nil {
		return false, fmt.Errorf("get HPA %s: %w", want.Name, err)
	}
	owner := want.OwnerReferences[0]
	owned := false
	if ref := metav1.GetControllerOf(got); ref != nil && ref.UID == owner.UID {
		owned = true
	}
	if !owned && !adopt {
		return false, fmt.Errorf("HPA %s %w; to adopt it, set the annotation %s: \"true\" and spec.advanced.horizontalPodAutoscalerConfig.name: %s",
			want.Name, errHPANotOwned, kedav1.AnnotationTransferHPAOwnership, want.Name)
	}
	if owned && hpaUpToDate(got, want) {
		return false, nil
	}
	upd := got.DeepCopy()
	upd.Spec, upd.Labels, upd.Annotations = want.Spec, want.Labels, want.Annotations
	if !owned {
		refs := []metav1.OwnerReference{owner}
		for _, r := range got.OwnerReferences {
			if r.Controller == nil || !*r.Controller {
				refs = append(refs, r)
			}
		}
		upd.OwnerReferences = refs
	}
	if _, err := hpas.Update(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("update HPA %s: %w", want.Name, err)
	}
	return !owned, nil
}

// deleteOwnedHPA deletes the HPA name when the ScaledObject uid controls
// it; a missing HPA, or one owned by someone else, is left alone.
func (c *Controller) deleteOwnedHPA(ctx context.Context, namespace, name string, uid string) error {
	hpas := c.kube.AutoscalingV2().HorizontalPodAutoscalers(namespace)
	got, err := hpas.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("get HPA %s: %w", name, err)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || string(ref.UID) != uid {
		return nil
	}
	err = hpas.Delete(ctx, name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &got.UID}})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete HPA %s: %w", name, err)
	}
	return nil
}
