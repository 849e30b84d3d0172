package scaler

import (
	"errors"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// modifiersSO is a ScaledObject with webhook triggers named names and
// scalingModifiers sm.
func modifiersSO(sm kedav1.ScalingModifiers, names ...string) *kedav1.ScaledObject {
	return testSO(nil, func(s *kedav1.ScaledObjectSpec) {
		for _, n := range names {
			s.Triggers = append(s.Triggers, kedav1.ScaleTrigger{Type: "webhook", Name: n})
		}
		s.Advanced = &kedav1.AdvancedConfig{ScalingModifiers: &sm}
	})
}

func mustModifiers(t *testing.T, sm kedav1.ScalingModifiers, names ...string) *modifiers {
	t.Helper()
	watched := map[string]bool{}
	for _, n := range names {
		watched[n] = true
	}
	m, err := parseModifiers(modifiersSO(sm, names...), watched)
	if err != nil || m == nil {
		t.Fatalf("parseModifiers: %v, %v", m, err)
	}
	return m
}

func TestParseModifiers(t *testing.T) {
	if m, err := parseModifiers(testSO(nil, nil), nil); m != nil || err != nil {
		t.Fatalf("no modifiers: %v, %v", m, err)
	}
	m := mustModifiers(t, kedav1.ScalingModifiers{Formula: "(a + b) / 2", Target: "2.5", ActivationTarget: "1.5", MetricType: "Value"}, "a", "b")
	if m.target != 2.5 || m.activation != 1.5 || m.metricType != autoscalingv2.ValueMetricType || m.unsupported != nil {
		t.Fatalf("parsed %+v", m)
	}
	if m := mustModifiers(t, kedav1.ScalingModifiers{Formula: "a", Target: "1"}, "a"); m.metricType != autoscalingv2.AverageValueMetricType || m.activation != 0 {
		t.Fatalf("defaults: %+v", m)
	}
	// A formula over a trigger that is not watched (an unsupported type).
	so := modifiersSO(kedav1.ScalingModifiers{Formula: "a + b", Target: "1"}, "a")
	so.Spec.Triggers = append(so.Spec.Triggers, kedav1.ScaleTrigger{Type: "prometheus", Name: "b"})
	m, err := parseModifiers(so, map[string]bool{"a": true})
	if err != nil || m.unsupported["b"] != "prometheus" {
		t.Fatalf("unsupported: %+v, %v", m, err)
	}
	// Validate runs first; a formula that does not compile still names the field.
	_, err = parseModifiers(modifiersSO(kedav1.ScalingModifiers{Formula: "a +", Target: "1"}, "a"), map[string]bool{"a": true})
	if err == nil || !strings.HasPrefix(err.Error(), `spec.advanced.scalingModifiers.formula "a +"`) {
		t.Fatalf("bad formula: %v", err)
	}
}

func known(name string, v float64) part {
	return part{name: name, metric: "s-" + name, entry: store.Entry{Known: true, Value: v}}
}

func failing(name string, failures int) part {
	return part{name: name, metric: "s-" + name, entry: store.Entry{Failures: failures, Err: "connection refused"}}
}

func TestModifiersActivity(t *testing.T) {
	m := mustModifiers(t, kedav1.ScalingModifiers{Formula: "(a + b) / 2", Target: "5", ActivationTarget: "3"}, "a", "b")
	cases := []struct {
		name  string
		parts []part
		want  Composite
	}{
		{name: "the formula's value", parts: []part{known("a", 2), known("b", 6)}, want: Composite{Known: true, Value: 4, Activation: 3}},
		{name: "a trigger not read yet leaves it unknown", parts: []part{known("a", 2), {name: "b"}}, want: Composite{Activation: 3}},
		{name: "a failing trigger leaves it unknown (Decide sees the failure)", parts: []part{known("a", 2), failing("b", 9)}, want: Composite{Activation: 3}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := m.activity(tc.parts); *got != tc.want {
				t.Fatalf("activity = %+v, want %+v", *got, tc.want)
			}
		})
	}
	t.Run("an unsupported trigger the formula needs is an error", func(t *testing.T) {
		m := mustModifiers(t, kedav1.ScalingModifiers{Formula: "a + b", Target: "1"}, "a", "b")
		m.unsupported = map[string]string{"b": "prometheus"}
		if got := m.activity([]part{known("a", 1)}); got.Known || !strings.Contains(got.Err, "b (prometheus)") {
			t.Fatalf("activity = %+v", got)
		}
	})
}

func TestModifiersValue(t *testing.T) {
	sum := kedav1.ScalingModifiers{Formula: "a + b", Target: "5"}
	chain := kedav1.ScalingModifiers{Formula: "a ?? b", Target: "2"}
	chainLiteral := kedav1.ScalingModifiers{Formula: "a ?? b ?? 8", Target: "2"}
	static := &kedav1.Fallback{FailureThreshold: 3, Replicas: 4}
	current := &kedav1.Fallback{FailureThreshold: 3, Replicas: 4, Behavior: "currentReplicasIfHigher"}
	perTrigger := &kedav1.Fallback{FailureThreshold: 3, Replicas: 7, Behavior: "scalingModifiers"}
	ready3 := func() (int32, error) { return 3, nil }
	cases := []struct {
		name    string
		sm      kedav1.ScalingModifiers
		fb      *kedav1.Fallback
		parts   []part
		current int32
		want    float64
		wantErr string
	}{
		{name: "the formula over the values", sm: sum, parts: []part{known("a", 2), known("b", 5)}, want: 7},
		{name: "average", sm: kedav1.ScalingModifiers{Formula: "(a + b) / 2", Target: "5"}, parts: []part{known("a", 3), known("b", 4)}, want: 3.5},
		{name: "a trigger not read yet is an error, never zero", sm: sum, parts: []part{known("a", 2), {name: "b", metric: "s1-b"}},
			wantErr: "trigger b (s1-b) has no value yet"},
		{name: "a failing trigger without fallback is an error", sm: sum, parts: []part{known("a", 2), failing("b", 50)},
			wantErr: "trigger b (s-b): reading it failed 50 time(s): connection refused"},
		{name: "a failing trigger below the threshold is an error", sm: sum, fb: static, parts: []part{known("a", 2), failing("b", 3)},
			wantErr: "reading it failed 3 time(s)"},
		{name: "past the threshold composite-metric falls back to target × fallback.replicas", sm: sum, fb: static,
			parts: []part{known("a", 2), failing("b", 4)}, want: 5 * 4},
		{name: "once: two triggers in fallback do not multiply it (KEDA #5371)", sm: sum, fb: static,
			parts: []part{failing("a", 4), failing("b", 4)}, want: 5 * 4},
		{name: "fallback wins over another trigger's error below the threshold, as in KEDA", sm: sum, fb: static,
			parts: []part{failing("a", 1), failing("b", 4)}, want: 5 * 4},
		{name: "currentReplicasIfHigher uses the current count when higher", sm: sum, fb: current, current: 9,
			parts: []part{known("a", 2), failing("b", 4)}, want: 5 * 9},
		{name: "Value target: divided by the ready pods", sm: kedav1.ScalingModifiers{Formula: "a + b", Target: "6", MetricType: "Value"}, fb: static,
			parts: []part{known("a", 2), failing("b", 4)}, want: 6 * 4 / 3.0},
		{name: "behavior scalingModifiers: a trigger past the threshold is nil, ?? routes to the next", sm: chain, fb: perTrigger,
			parts: []part{failing("a", 4), known("b", 3)}, want: 3},
		{name: "behavior scalingModifiers: below the threshold it is still an error", sm: chain, fb: perTrigger,
			parts: []part{failing("a", 3), known("b", 3)}, wantErr: "reading it failed 3 time(s)"},
		{name: "behavior scalingModifiers: all nil reaches the literal", sm: chainLiteral, fb: perTrigger,
			parts: []part{failing("a", 4), failing("b", 4)}, want: 8},
		{name: "behavior scalingModifiers: a nil result falls back to fallback.replicas × target", sm: chain, fb: perTrigger,
			parts: []part{failing("a", 4), failing("b", 4)}, want: 7 * 2},
		{name: "behavior scalingModifiers: nil outside ?? is a formula error", sm: sum, fb: perTrigger,
			parts: []part{failing("a", 4), known("b", 3)}, wantErr: `formula "a + b"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := mustModifiers(t, tc.sm, "a", "b")
			got, err := m.value(tc.parts, tc.fb, tc.current, ready3)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("value = %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("value = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	t.Run("Value target with no ready pod holds the HPA", func(t *testing.T) {
		m := mustModifiers(t, kedav1.ScalingModifiers{Formula: "a + b", Target: "6", MetricType: "Value"}, "a", "b")
		_, err := m.value([]part{known("a", 2), failing("b", 4)}, static, 0, func() (int32, error) { return 0, nil })
		if !errors.Is(err, errFallbackUnavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestHPAMetricsWithModifiers(t *testing.T) {
	ws := []watched{
		{index: 0, name: "a", spec: specOf("s0-webhook-a", 2), metricType: autoscalingv2.AverageValueMetricType},
		{index: 1, name: "b", spec: specOf("s1-webhook-b", 3), metricType: autoscalingv2.ValueMetricType},
	}
	if got := hpaMetrics(nil, ws); len(got) != 2 || got[0].name != "s0-webhook-a" || got[1].typ != autoscalingv2.ValueMetricType {
		t.Fatalf("without modifiers: %+v", got)
	}
	m := mustModifiers(t, kedav1.ScalingModifiers{Formula: "a + b", Target: "2.5", MetricType: "Value"}, "a", "b")
	got := hpaMetrics(m, ws)
	if len(got) != 1 || got[0] != (hpaMetric{name: "composite-metric", target: 2.5, typ: autoscalingv2.ValueMetricType}) {
		t.Fatalf("with modifiers: %+v", got)
	}
	if got := hpaMetrics(m, nil); got != nil {
		t.Fatalf("no watched trigger: %+v", got)
	}
	so := modifiersSO(kedav1.ScalingModifiers{Formula: "a + b", Target: "2.5", MetricType: "Value"}, "a", "b")
	cpu := autoscalingv2.MetricSpec{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{Name: "cpu"}}
	h := buildHPA(so, testGVKR, got, []autoscalingv2.MetricSpec{cpu}, controls{})
	if len(h.Spec.Metrics) != 2 || h.Spec.Metrics[1].Resource == nil {
		t.Fatalf("metrics %+v", h.Spec.Metrics)
	}
	e := h.Spec.Metrics[0].External
	if e == nil || e.Metric.Name != "composite-metric" || e.Metric.Selector.MatchLabels[kedav1.LabelScaledObjectName] != "worker" ||
		e.Target.Type != autoscalingv2.ValueMetricType || e.Target.Value == nil || e.Target.Value.MilliValue() != 2500 || e.Target.AverageValue != nil {
		t.Fatalf("composite metric %+v", e)
	}
}

func specOf(name string, target float64) sources.Spec {
	return sources.Spec{MetricName: name, Target: target}
}
