package scaler

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	scalefake "k8s.io/client-go/scale/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/metricsapi"
	"github.com/pushscale/pushscale/store"
)

// valuesHarness is a Controller that knows one ScaledObject, ns/worker,
// with webhook triggers a (index 0) and b (index 1), answering through the
// metrics API's provider.
type valuesHarness struct {
	c     *Controller
	st    *store.Store
	owner store.Owner
	p     *metricsapi.Provider
}

func newValuesHarness(t *testing.T, so *kedav1.ScaledObject, replicas int32, pods ...*corev1.Pod) *valuesHarness {
	t.Helper()
	so.UID = "u1"
	st := store.New(nil)
	objs := make([]runtime.Object, 0, len(pods))
	for _, p := range pods {
		objs = append(objs, p)
	}
	scales := &scalefake.FakeScaleClient{}
	scales.AddReactor("get", "deployments", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, &autoscalingv1.Scale{
			ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "ns"},
			Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
			Status:     autoscalingv1.ScaleStatus{Replicas: replicas, Selector: "app=worker"},
		}, nil
	})
	c := &Controller{opts: Options{Store: st}, kube: kubefake.NewClientset(objs...), scales: scales, targets: map[types.NamespacedName]*target{}}
	owner := store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "worker", UID: so.UID}
	var ws []watched
	for i, tr := range so.Spec.Triggers {
		target := 2.0
		ws = append(ws, watched{index: i, typ: tr.Type, name: tr.Name, spec: specOf("s"+string(rune('0'+i))+"-webhook-"+tr.Name, target),
			metricType: tr.MetricTypeOrDefault()})
	}
	named := map[string]bool{}
	for _, w := range ws {
		named[w.name] = true
	}
	mods, err := parseModifiers(so, named)
	if err != nil {
		t.Fatal(err)
	}
	c.targets[types.NamespacedName{Namespace: "ns", Name: "worker"}] = &target{
		owner: owner, so: so, gvkr: testGVKR, valid: true, triggers: ws, mods: mods, replicas: replicas,
	}
	return &valuesHarness{c: c, st: st, owner: owner, p: metricsapi.NewProvider(c)}
}

func (h *valuesHarness) record(i int, v float64) {
	h.st.Record(store.Key{Owner: h.owner, Trigger: i}, v, time.Now())
}

func (h *valuesHarness) fail(i, times int) {
	for range times {
		h.st.Fail(store.Key{Owner: h.owner, Trigger: i}, errors.New("connection refused"))
	}
}

// get asks the provider as the HPA does: lower-cased name, the selector label.
func (h *valuesHarness) get(t *testing.T, metric string) (string, int64, error) {
	t.Helper()
	sel := labels.SelectorFromSet(labels.Set{metricsapi.ScaledObjectLabel: "worker"})
	list, err := h.p.GetExternalMetric(context.Background(), "ns", sel, provider.ExternalMetricInfo{Metric: strings.ToLower(metric)})
	if err != nil {
		return "", 0, err
	}
	if len(list.Items) != 1 {
		t.Fatalf("%d items", len(list.Items))
	}
	return list.Items[0].MetricName, list.Items[0].Value.MilliValue(), nil
}

func readyPod(name string, ready bool) *corev1.Pod {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "worker"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: status}}},
	}
}

func TestExternalMetricComposite(t *testing.T) {
	so := modifiersSO(kedav1.ScalingModifiers{Formula: "(a + b) / 2", Target: "3"}, "a", "b")
	h := newValuesHarness(t, so, 2)
	if _, _, err := h.get(t, "composite-metric"); err == nil || !strings.Contains(err.Error(), "has no value yet") {
		t.Fatalf("before any value: %v", err)
	}
	h.record(0, 4)
	if _, _, err := h.get(t, "composite-metric"); err == nil || !strings.Contains(err.Error(), "trigger b (s1-webhook-b) has no value yet") {
		t.Fatalf("with one value: %v", err)
	}
	h.record(1, 7)
	name, milli, err := h.get(t, "COMPOSITE-METRIC")
	if err != nil || name != "composite-metric" || milli != 5500 {
		t.Fatalf("composite = %q %d %v, want composite-metric 5500", name, milli, err)
	}
	// The triggers' own metrics still answer (not in the HPA, but a
	// kubectl get --raw finds them).
	if name, milli, err := h.get(t, "s0-webhook-a"); err != nil || name != "s0-webhook-a" || milli != 4000 {
		t.Fatalf("s0 = %q %d %v", name, milli, err)
	}
	// A failing trigger without fallback: the composite errors, the HPA holds.
	h.fail(1, 5)
	if _, _, err := h.get(t, "composite-metric"); err == nil || !strings.Contains(err.Error(), "reading it failed 5 time(s)") {
		t.Fatalf("failing: %v", err)
	}
	// A negative formula value is served as 0, as KEDA does.
	so2 := modifiersSO(kedav1.ScalingModifiers{Formula: "a - b", Target: "3"}, "a", "b")
	h2 := newValuesHarness(t, so2, 1)
	h2.record(0, 1)
	h2.record(1, 5)
	if _, milli, err := h2.get(t, "composite-metric"); err != nil || milli != 0 {
		t.Fatalf("negative: %d %v", milli, err)
	}
}

func TestExternalMetricCompositeWithoutModifiersIsNotFound(t *testing.T) {
	so := testSO(nil, func(s *kedav1.ScaledObjectSpec) { s.Triggers = []kedav1.ScaleTrigger{{Type: "webhook", Name: "a"}} })
	h := newValuesHarness(t, so, 1)
	h.record(0, 1)
	if _, _, err := h.get(t, "composite-metric"); !apierrors.IsNotFound(err) {
		t.Fatalf("err %v", err)
	}
}

func TestExternalMetricCompositeFallback(t *testing.T) {
	t.Run("static: target × fallback.replicas once the threshold is passed", func(t *testing.T) {
		so := modifiersSO(kedav1.ScalingModifiers{Formula: "a + b", Target: "3"}, "a", "b")
		so.Spec.Fallback = &kedav1.Fallback{FailureThreshold: 2, Replicas: 5}
		h := newValuesHarness(t, so, 2)
		h.record(0, 1)
		h.fail(1, 2)
		if _, _, err := h.get(t, "composite-metric"); err == nil {
			t.Fatal("at the threshold the error must reach the HPA")
		}
		h.fail(1, 1)
		if _, milli, err := h.get(t, "composite-metric"); err != nil || milli != 15000 {
			t.Fatalf("fallback = %d %v, want 15000", milli, err)
		}
		h.record(1, 2)
		if _, milli, err := h.get(t, "composite-metric"); err != nil || milli != 3000 {
			t.Fatalf("recovered = %d %v, want 3000", milli, err)
		}
	})
	t.Run("behavior scalingModifiers: the failed trigger is nil for ??", func(t *testing.T) {
		so := modifiersSO(kedav1.ScalingModifiers{Formula: "a ?? b", Target: "2"}, "a", "b")
		so.Spec.Fallback = &kedav1.Fallback{FailureThreshold: 1, Replicas: 6, Behavior: "scalingModifiers"}
		h := newValuesHarness(t, so, 2)
		h.record(1, 9)
		h.fail(0, 2)
		if _, milli, err := h.get(t, "composite-metric"); err != nil || milli != 9000 {
			t.Fatalf("a ?? b with a failed = %d %v, want 9000", milli, err)
		}
		h.fail(1, 2)
		if _, milli, err := h.get(t, "composite-metric"); err != nil || milli != 12000 {
			t.Fatalf("both failed = %d %v, want fallback.replicas 6 × target 2", milli, err)
		}
	})
	t.Run("Value target: divided by the ready pods", func(t *testing.T) {
		so := modifiersSO(kedav1.ScalingModifiers{Formula: "a + b", Target: "4", MetricType: "Value"}, "a", "b")
		so.Spec.Fallback = &kedav1.Fallback{FailureThreshold: 0, Replicas: 6}
		h := newValuesHarness(t, so, 3, readyPod("p1", true), readyPod("p2", true), readyPod("p3", false))
		h.record(0, 1)
		h.fail(1, 1)
		// 4 × 6 / 2 ready pods = 12: the HPA's 2 × 12 / 4 = 6 replicas.
		if _, milli, err := h.get(t, "composite-metric"); err != nil || milli != 12000 {
			t.Fatalf("fallback = %d %v, want 12000", milli, err)
		}
	})
	t.Run("Value target with no ready pod: the HPA holds", func(t *testing.T) {
		so := modifiersSO(kedav1.ScalingModifiers{Formula: "a + b", Target: "4", MetricType: "Value"}, "a", "b")
		so.Spec.Fallback = &kedav1.Fallback{FailureThreshold: 0, Replicas: 6}
		h := newValuesHarness(t, so, 1, readyPod("p1", false))
		h.record(0, 1)
		h.fail(1, 1)
		if _, _, err := h.get(t, "composite-metric"); err == nil || !strings.Contains(err.Error(), "no pod of the target is ready") {
			t.Fatalf("err %v", err)
		}
	})
}

// TestExternalMetricValueFallback: a trigger's own Value metric falls back
// to target × replicas / ready pods (KEDA ≥ 2.18), an AverageValue one to
// target × replicas.
func TestExternalMetricValueFallback(t *testing.T) {
	so := testSO(nil, func(s *kedav1.ScaledObjectSpec) {
		s.Triggers = []kedav1.ScaleTrigger{{Type: "webhook", Name: "a", MetricType: autoscalingv2.ValueMetricType}, {Type: "webhook", Name: "b"}}
		s.Fallback = &kedav1.Fallback{FailureThreshold: 1, Replicas: 4}
	})
	h := newValuesHarness(t, so, 2, readyPod("p1", true), readyPod("p2", true))
	h.fail(0, 2)
	h.fail(1, 2)
	if _, milli, err := h.get(t, "s0-webhook-a"); err != nil || milli != 4000 { // 2 × 4 / 2
		t.Fatalf("Value fallback = %d %v, want 4000", milli, err)
	}
	if _, milli, err := h.get(t, "s1-webhook-b"); err != nil || milli != 8000 { // 2 × 4
		t.Fatalf("AverageValue fallback = %d %v, want 8000", milli, err)
	}
}

// TestFallbackOnAStandby: a replica that has not decided (a standby: its
// decisions wait for the election) has no count of the target's replicas;
// a fallback by current replicas reads them from /scale, so every replica
// serves the HPA the same value.
func TestFallbackOnAStandby(t *testing.T) {
	so := testSO(nil, func(s *kedav1.ScaledObjectSpec) {
		s.Triggers = []kedav1.ScaleTrigger{{Type: "webhook", Name: "a"}}
		s.Fallback = &kedav1.Fallback{FailureThreshold: 1, Replicas: 2, Behavior: kedav1.FallbackBehaviorCurrentReplicas}
	})
	h := newValuesHarness(t, so, 5) // /scale says 5
	tg := h.c.targets[types.NamespacedName{Namespace: "ns", Name: "worker"}]
	tg.replicas, tg.decided = 0, false // never decided here
	h.fail(0, 2)
	if _, milli, err := h.get(t, "s0-webhook-a"); err != nil || milli != 10000 {
		t.Fatalf("fallback on a standby = %d %v, want 5 current replicas × target 2", milli, err)
	}
}
