package scaler

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// indexedController is a Controller with only its ScaledObject and HPA
// caches, filled with objs.
func indexedController(t *testing.T, objs ...any) *Controller {
	t.Helper()
	c := &Controller{
		soInformer:  cache.NewSharedIndexInformer(&cache.ListWatch{}, &kedav1.ScaledObject{}, 0, cache.Indexers{targetIndex: indexSOByWorkload}),
		hpaInformer: cache.NewSharedIndexInformer(&cache.ListWatch{}, &autoscalingv2.HorizontalPodAutoscaler{}, 0, cache.Indexers{targetIndex: indexHPAByWorkload}),
	}
	for _, o := range objs {
		inf := c.hpaInformer
		if _, ok := o.(*kedav1.ScaledObject); ok {
			inf = c.soInformer
		}
		if err := inf.GetIndexer().Add(o); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func ownedSO(name string, uid types.UID, created time.Time, target string) *kedav1.ScaledObject {
	return &kedav1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: uid, CreationTimestamp: metav1.NewTime(created)},
		Spec:       kedav1.ScaledObjectSpec{ScaleTargetRef: &kedav1.ScaleTarget{Name: target}},
	}
}

func testHPA(name, target string, owner *kedav1.ScaledObject, ann map[string]string) *autoscalingv2.HorizontalPodAutoscaler {
	h := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Annotations: ann},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
			APIVersion: "apps/v1", Kind: "Deployment", Name: target}},
	}
	if owner != nil {
		h.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(owner, kedav1.SchemeGroupVersion.WithKind(kedav1.KindScaledObject))}
	}
	return h
}

func TestHolder(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	older := ownedSO("zeta", "u1", t0, "app")
	newer := ownedSO("alpha", "u2", t0.Add(time.Second), "app")
	twin := ownedSO("beta", "u3", t0, "app")
	elsewhere := ownedSO("aaa", "u4", t0.Add(-time.Hour), "other")
	c := indexedController(t, older, newer, twin, elsewhere)
	if got := c.holder(newer); got.Name != "beta" {
		t.Errorf("holder of alpha: %s, want beta (oldest, then by name)", got.Name)
	}
	if got := c.holder(older); got.Name != "beta" {
		t.Errorf("holder of zeta: %s, want beta", got.Name)
	}
	if got := c.holder(elsewhere); got.Name != "aaa" {
		t.Errorf("holder of aaa: %s, want itself", got.Name)
	}
	statefulSet := ownedSO("sts", "u5", t0.Add(-time.Hour), "app")
	statefulSet.Spec.ScaleTargetRef.Kind = "StatefulSet"
	if got := c.holder(statefulSet); got.Name != "sts" {
		t.Errorf("a StatefulSet of the same name is another workload; holder %s", got.Name)
	}
}

func TestForeignHPA(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	so := ownedSO("worker", "u1", t0, "app")
	adopting := ownedSO("worker", "u1", t0, "app")
	adopting.Annotations = map[string]string{kedav1.AnnotationTransferHPAOwnership: "true"}
	adopting.Spec.Advanced = &kedav1.AdvancedConfig{HorizontalPodAutoscalerConfig: &kedav1.HorizontalPodAutoscalerConfig{Name: "legacy"}}
	transferOnly := so.DeepCopy()
	transferOnly.Annotations = map[string]string{kedav1.AnnotationTransferHPAOwnership: "true"}
	other := ownedSO("other", "u2", t0, "app")
	gone := ownedSO("gone", "u3", t0, "app")
	cases := []struct {
		name     string
		so       *kedav1.ScaledObject
		objs     []any
		foreign  string
		orphaned []string
	}{
		{name: "its own HPA", so: so, objs: []any{testHPA("keda-hpa-worker", "app", so, nil)}},
		{name: "an HPA of another workload", so: so, objs: []any{testHPA("legacy", "db", nil, nil)}},
		{name: "a user's HPA on the workload", so: so, objs: []any{testHPA("legacy", "app", nil, nil)}, foreign: "legacy"},
		{name: "validation switched off on the HPA", so: so,
			objs: []any{testHPA("legacy", "app", nil, map[string]string{kedav1.AnnotationValidateHPAOwnership: "false"})}},
		{name: "adopted by transfer-hpa-ownership and its name", so: adopting, objs: []any{testHPA("legacy", "app", nil, nil)}},
		{name: "transfer-hpa-ownership without the name", so: transferOnly, objs: []any{testHPA("legacy", "app", nil, nil)}, foreign: "legacy"},
		{name: "the HPA of a live ScaledObject", so: so, objs: []any{other, testHPA("keda-hpa-other", "app", other, nil)}},
		{name: "the HPA of a deleted ScaledObject", so: so, objs: []any{testHPA("keda-hpa-gone", "app", gone, nil)}, orphaned: []string{"keda-hpa-gone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := indexedController(t, tc.objs...)
			foreign, orphans := c.foreignHPA(tc.so)
			if foreign != tc.foreign {
				t.Errorf("foreign %q, want %q", foreign, tc.foreign)
			}
			var names []string
			for _, h := range orphans {
				names = append(names, h.Name)
			}
			if len(names) != len(tc.orphaned) || len(names) > 0 && names[0] != tc.orphaned[0] {
				t.Errorf("orphans %v, want %v", names, tc.orphaned)
			}
		})
	}
}
