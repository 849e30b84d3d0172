package scaler

import (
	"testing"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestFallbackValue(t *testing.T) {
	cases := []struct {
		name     string
		behavior string
		current  int32
		want     float64
	}{
		{name: "static uses fallback.replicas", behavior: "static", current: 2, want: 30},
		{name: "default is static", behavior: "", current: 2, want: 30},
		{name: "currentReplicas keeps the size", behavior: "currentReplicas", current: 2, want: 20},
		{name: "currentReplicasIfHigher takes the larger", behavior: "currentReplicasIfHigher", current: 5, want: 50},
		{name: "currentReplicasIfHigher keeps fallback when larger", behavior: "currentReplicasIfHigher", current: 1, want: 30},
		{name: "currentReplicasIfLower takes the smaller", behavior: "currentReplicasIfLower", current: 1, want: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fb := &kedav1.Fallback{FailureThreshold: 3, Replicas: 3, Behavior: tc.behavior}
			if got := fallbackValue(fb, 10, tc.current); got != tc.want {
				t.Fatalf("fallbackValue = %v, want %v", got, tc.want)
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
