package scaler

import (
	"errors"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestFallbackReplicas(t *testing.T) {
	cases := []struct {
		name     string
		behavior string
		current  int32
		want     int32
	}{
		{name: "static uses fallback.replicas", behavior: "static", current: 2, want: 3},
		{name: "default is static", behavior: "", current: 2, want: 3},
		{name: "currentReplicas keeps the size", behavior: "currentReplicas", current: 2, want: 2},
		{name: "currentReplicasIfHigher takes the larger", behavior: "currentReplicasIfHigher", current: 5, want: 5},
		{name: "currentReplicasIfHigher keeps fallback when larger", behavior: "currentReplicasIfHigher", current: 1, want: 3},
		{name: "currentReplicasIfLower takes the smaller", behavior: "currentReplicasIfLower", current: 1, want: 1},
		{name: "scalingModifiers is static for a trigger falling back alone", behavior: "scalingModifiers", current: 7, want: 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb := &kedav1.Fallback{FailureThreshold: 3, Replicas: 3, Behavior: tc.behavior}
			if got := fallbackReplicas(fb, tc.current); got != tc.want {
				t.Fatalf("fallbackReplicas = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestFallbackMetric: the value that lands the HPA on the fallback replica
// count. AverageValue: desired = value / target. Value: desired =
// ready × value / target.
func TestFallbackMetric(t *testing.T) {
	readyN := func(n int32) func() (int32, error) { return func() (int32, error) { return n, nil } }
	noCall := func() (int32, error) { t.Fatal("ready pods counted for an AverageValue target"); return 0, nil }
	cases := []struct {
		name     string
		target   float64
		replicas int32
		typ      autoscalingv2.MetricTargetType
		ready    func() (int32, error)
		want     float64
		wantErr  bool
	}{
		{name: "AverageValue is target × replicas", target: 10, replicas: 3, typ: autoscalingv2.AverageValueMetricType, ready: noCall, want: 30},
		{name: "empty type is AverageValue", target: 2.5, replicas: 4, typ: "", ready: noCall, want: 10},
		{name: "Value divides by the ready pods", target: 10, replicas: 6, typ: autoscalingv2.ValueMetricType, ready: readyN(4), want: 15},
		{name: "Value with one ready pod", target: 10, replicas: 6, typ: autoscalingv2.ValueMetricType, ready: readyN(1), want: 60},
		{name: "Value with no ready pod cannot fall back", target: 10, replicas: 6, typ: autoscalingv2.ValueMetricType, ready: readyN(0), wantErr: true},
		{name: "Value when counting fails cannot fall back", target: 10, replicas: 6, typ: autoscalingv2.ValueMetricType,
			ready: func() (int32, error) { return 0, errors.New("forbidden") }, wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := fallbackMetric(tc.target, tc.replicas, tc.typ, tc.ready)
			if tc.wantErr {
				if !errors.Is(err, errFallbackUnavailable) {
					t.Fatalf("fallbackMetric = %v, %v; want errFallbackUnavailable", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("fallbackMetric = %v, %v; want %v", got, err, tc.want)
			}
			// The HPA's arithmetic lands on the replica count.
			if tc.typ == autoscalingv2.ValueMetricType {
				n, _ := tc.ready()
				if desired := float64(n) * got / tc.target; desired != float64(tc.replicas) {
					t.Errorf("HPA would want %v replicas, not %d", desired, tc.replicas)
				}
			} else if desired := got / tc.target; desired != float64(tc.replicas) {
				t.Errorf("HPA would want %v replicas, not %d", desired, tc.replicas)
			}
		})
	}
}

func TestInFallback(t *testing.T) {
	fb := &kedav1.Fallback{FailureThreshold: 3, Replicas: 1}
	for failures, want := range map[int]bool{0: false, 3: false, 4: true} {
		if got := inFallback(fb, failures); got != want {
			t.Errorf("inFallback(%d) = %v, want %v", failures, got, want)
		}
	}
	if inFallback(nil, 100) {
		t.Error("no fallback configured, yet in fallback")
	}
}
