package scaler

import (
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func testSO(ann map[string]string, mod func(*kedav1.ScaledObjectSpec)) *kedav1.ScaledObject {
	so := &kedav1.ScaledObject{
		ObjectMeta: metav1.ObjectMeta{Name: "worker", Namespace: "ns", UID: "u1", Annotations: ann},
		Spec:       kedav1.ScaledObjectSpec{ScaleTargetRef: &kedav1.ScaleTarget{Name: "worker"}},
	}
	if mod != nil {
		mod(&so.Spec)
	}
	return so
}

var testGVKR = kedav1.GroupVersionKindResource{Group: "apps", Version: "v1", Kind: "Deployment", Resource: "deployments"}

func TestBuildHPAPauseBehavior(t *testing.T) {
	disabled, maxPolicy := autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect
	window := int32(30)
	withBehavior := func(s *kedav1.ScaledObjectSpec) {
		s.Advanced = &kedav1.AdvancedConfig{HorizontalPodAutoscalerConfig: &kedav1.HorizontalPodAutoscalerConfig{
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{
				ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: &window, SelectPolicy: &maxPolicy},
			},
		}}
	}
	cases := []struct {
		name       string
		ctl        controls
		mod        func(*kedav1.ScaledObjectSpec)
		up, down   *autoscalingv2.ScalingPolicySelect
		nilBehavor bool
		window     *int32
	}{
		{name: "no annotation, no behavior", nilBehavor: true},
		{name: "paused-scale-in disables scale down", ctl: controls{pauseScaleIn: true}, down: &disabled},
		{name: "paused-scale-out disables scale up", ctl: controls{pauseScaleOut: true}, up: &disabled},
		{name: "both", ctl: controls{pauseScaleIn: true, pauseScaleOut: true}, up: &disabled, down: &disabled},
		{name: "user behavior is kept and overridden only in its select policy",
			ctl: controls{pauseScaleIn: true}, mod: withBehavior, down: &disabled, window: &window},
		{name: "user behavior without annotation is copied", mod: withBehavior, down: &maxPolicy, window: &window},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			so := testSO(nil, tc.mod)
			h := buildHPA(so, testGVKR, []hpaMetric{{name: "s0-webhook-jobs", target: 2}}, nil, tc.ctl)
			b := h.Spec.Behavior
			if tc.nilBehavor {
				if b != nil {
					t.Fatalf("behavior %+v, want none", b)
				}
				return
			}
			policy := func(r *autoscalingv2.HPAScalingRules) *autoscalingv2.ScalingPolicySelect {
				if r == nil {
					return nil
				}
				return r.SelectPolicy
			}
			if got := policy(b.ScaleUp); (got == nil) != (tc.up == nil) || got != nil && *got != *tc.up {
				t.Errorf("scaleUp.selectPolicy %v, want %v", got, tc.up)
			}
			if got := policy(b.ScaleDown); (got == nil) != (tc.down == nil) || got != nil && *got != *tc.down {
				t.Errorf("scaleDown.selectPolicy %v, want %v", got, tc.down)
			}
			if tc.window != nil && (b.ScaleDown.StabilizationWindowSeconds == nil || *b.ScaleDown.StabilizationWindowSeconds != *tc.window) {
				t.Errorf("scaleDown.stabilizationWindowSeconds %v, want %d", b.ScaleDown.StabilizationWindowSeconds, *tc.window)
			}
			if so.Spec.Advanced != nil && so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleDown.SelectPolicy != &maxPolicy {
				t.Error("the ScaledObject's behavior was modified")
			}
		})
	}
}

func TestBuildHPAMetricsOrder(t *testing.T) {
	cpu, err := resourceMetric(kedav1.ScaleTrigger{Type: "cpu", Metadata: map[string]string{"value": "60"}})
	if err != nil {
		t.Fatal(err)
	}
	mem, err := resourceMetric(kedav1.ScaleTrigger{Type: "memory", MetricType: autoscalingv2.AverageValueMetricType,
		Metadata: map[string]string{"value": "512Mi", "containerName": "app"}})
	if err != nil {
		t.Fatal(err)
	}
	h := buildHPA(testSO(nil, nil), testGVKR, []hpaMetric{{name: "s1-webhook-jobs", target: 2}}, []autoscalingv2.MetricSpec{cpu, mem}, controls{})
	var got []autoscalingv2.MetricSourceType
	for _, m := range h.Spec.Metrics {
		got = append(got, m.Type)
	}
	want := []autoscalingv2.MetricSourceType{autoscalingv2.ContainerResourceMetricSourceType, autoscalingv2.ExternalMetricSourceType, autoscalingv2.ResourceMetricSourceType}
	if len(got) != len(want) {
		t.Fatalf("metric types %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("metric types %v, want %v", got, want)
		}
	}
	if r := h.Spec.Metrics[2].Resource; r.Name != "cpu" || r.Target.Type != autoscalingv2.UtilizationMetricType || *r.Target.AverageUtilization != 60 {
		t.Errorf("cpu metric %+v", r)
	}
	if r := h.Spec.Metrics[0].ContainerResource; r.Name != "memory" || r.Container != "app" || r.Target.AverageValue.String() != "512Mi" {
		t.Errorf("memory metric %+v", r)
	}
}

func TestResourceMetric(t *testing.T) {
	cases := []struct {
		name    string
		tr      kedav1.ScaleTrigger
		typ     autoscalingv2.MetricTargetType
		wantErr string
	}{
		{name: "utilization is the default", tr: kedav1.ScaleTrigger{Type: "cpu", Metadata: map[string]string{"value": "50"}}, typ: autoscalingv2.UtilizationMetricType},
		{name: "metricType AverageValue", tr: kedav1.ScaleTrigger{Type: "memory", MetricType: autoscalingv2.AverageValueMetricType, Metadata: map[string]string{"value": "1Gi"}}, typ: autoscalingv2.AverageValueMetricType},
		{name: "deprecated metadata type", tr: kedav1.ScaleTrigger{Type: "cpu", Metadata: map[string]string{"type": "AverageValue", "value": "500m"}}, typ: autoscalingv2.AverageValueMetricType},
		{name: "both metadata type and metricType", tr: kedav1.ScaleTrigger{Type: "cpu", MetricType: autoscalingv2.UtilizationMetricType, Metadata: map[string]string{"type": "Utilization", "value": "50"}}, wantErr: `cpu: metadata type "Utilization" and metricType "Utilization": set only metricType`},
		{name: "missing value", tr: kedav1.ScaleTrigger{Type: "cpu", Metadata: map[string]string{}}, wantErr: `cpu: value "": required`},
		{name: "utilization must be whole", tr: kedav1.ScaleTrigger{Type: "cpu", Metadata: map[string]string{"value": "50.5"}}, wantErr: `cpu: value "50.5": must be a whole percentage greater than 0 for Utilization`},
		{name: "bad quantity", tr: kedav1.ScaleTrigger{Type: "memory", MetricType: autoscalingv2.AverageValueMetricType, Metadata: map[string]string{"value": "lots"}}, wantErr: `memory: value "lots": must be a quantity greater than 0 for AverageValue`},
		{name: "Value is not allowed", tr: kedav1.ScaleTrigger{Type: "cpu", MetricType: autoscalingv2.ValueMetricType, Metadata: map[string]string{"value": "1"}}, wantErr: `cpu: metricType "Value": must be Utilization or AverageValue`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := resourceMetric(tc.tr)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Resource == nil || m.Resource.Target.Type != tc.typ || string(m.Resource.Name) != tc.tr.Type {
				t.Fatalf("metric %+v, want a %s Resource metric named %s", m, tc.typ, tc.tr.Type)
			}
		})
	}
}

func TestHPAUpToDate(t *testing.T) {
	so := testSO(nil, nil)
	plain := buildHPA(so, testGVKR, []hpaMetric{{name: "s0-webhook-jobs", target: 2}}, nil, controls{})
	paused := buildHPA(so, testGVKR, []hpaMetric{{name: "s0-webhook-jobs", target: 2}}, nil, controls{pauseScaleIn: true})
	// What the apiserver stores: the behavior filled in with defaults.
	stored := paused.DeepCopy()
	maxPolicy, zero := autoscalingv2.MaxChangePolicySelect, int32(0)
	stored.Spec.Behavior.ScaleUp = &autoscalingv2.HPAScalingRules{SelectPolicy: &maxPolicy, StabilizationWindowSeconds: &zero,
		Policies: []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}}}
	stored.Spec.Behavior.ScaleDown.Policies = []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}}
	if !hpaUpToDate(stored, paused) {
		t.Error("a defaulted behavior counts as a difference")
	}
	if hpaUpToDate(stored, plain) {
		t.Error("removing paused-scale-in is not seen")
	}
	resumed := buildHPA(so, testGVKR, []hpaMetric{{name: "s0-webhook-jobs", target: 2}}, nil, controls{})
	resumed.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	if hpaUpToDate(stored, resumed) {
		t.Error("a Disabled select policy left over is not seen")
	}
	if !hpaUpToDate(plain.DeepCopy(), plain) {
		t.Error("an identical HPA differs")
	}
	fewer := plain.DeepCopy()
	fewer.Spec.Metrics = nil
	if hpaUpToDate(fewer, plain) {
		t.Error("a missing metric is not seen")
	}
}

func TestParseControls(t *testing.T) {
	cases := []struct {
		name    string
		ann     map[string]string
		want    controls
		wantErr bool
	}{
		{name: "none", ann: nil},
		{name: "paused true", ann: map[string]string{kedav1.AnnotationPaused: "true"}, want: controls{paused: true}},
		{name: "paused with a non-bool value pauses", ann: map[string]string{kedav1.AnnotationPaused: "please"}, want: controls{paused: true}},
		{name: "paused false does not pause", ann: map[string]string{kedav1.AnnotationPaused: "false"}},
		{name: "paused-replicas pauses even with paused false", ann: map[string]string{kedav1.AnnotationPaused: "false", kedav1.AnnotationPausedReplicas: "3"},
			want: controls{paused: true, pausedReplicas: ptr(3)}},
		{name: "paused-replicas 0", ann: map[string]string{kedav1.AnnotationPausedReplicas: "0"}, want: controls{paused: true, pausedReplicas: ptr(0)}},
		{name: "paused-replicas not a number", ann: map[string]string{kedav1.AnnotationPausedReplicas: "three"}, wantErr: true},
		{name: "paused-replicas negative", ann: map[string]string{kedav1.AnnotationPausedReplicas: "-1"}, wantErr: true},
		{name: "scale in and out", ann: map[string]string{kedav1.AnnotationPausedScaleIn: "true", kedav1.AnnotationPausedScaleOut: "true"},
			want: controls{pauseScaleIn: true, pauseScaleOut: true}},
		{name: "force activation", ann: map[string]string{kedav1.AnnotationForceActivation: "true"}, want: controls{forceActivation: true}},
		{name: "force activation false", ann: map[string]string{kedav1.AnnotationForceActivation: "false"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseControls(tc.ann)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			same := got.paused == tc.want.paused && got.pauseScaleIn == tc.want.pauseScaleIn && got.pauseScaleOut == tc.want.pauseScaleOut &&
				got.forceActivation == tc.want.forceActivation && (got.pausedReplicas == nil) == (tc.want.pausedReplicas == nil) &&
				(got.pausedReplicas == nil || *got.pausedReplicas == *tc.want.pausedReplicas)
			if !same {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestMergePatch(t *testing.T) {
	prev := map[string]any{"pausedReplicaCount": 3.0, "hpaName": "a", "health": map[string]any{"s0": "x", "s1": "y"}}
	next := map[string]any{"hpaName": "b", "health": map[string]any{"s0": "x"}}
	got := mergePatch(prev, next)
	if v, ok := got["pausedReplicaCount"]; !ok || v != nil {
		t.Errorf("pausedReplicaCount: %v, want null", v)
	}
	h := got["health"].(map[string]any)
	if v, ok := h["s1"]; !ok || v != nil || h["s0"] != "x" {
		t.Errorf("health: %v, want s0 kept and s1 null", h)
	}
	if got["hpaName"] != "b" {
		t.Errorf("hpaName %v", got["hpaName"])
	}
}
