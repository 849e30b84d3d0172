package scaler

import (
	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway/store"
)

// inFallback reports whether a trigger whose reads failed failures times
// in a row is served its fallback value: more than failureThreshold
// failures, with a fallback configured (keda.md 1.8).
func inFallback(fb *kedav1.Fallback, failures int) bool {
	return fb != nil && failures > int(fb.FailureThreshold)
}

// fallbackReplicas is the replica count a fallback value stands for, by
// fallback.behavior, given the target's current replicas.
func fallbackReplicas(fb *kedav1.Fallback, current int32) int32 {
	switch fb.BehaviorOrDefault() {
	case "currentReplicas":
		return current
	case "currentReplicasIfHigher":
		return max(current, fb.Replicas)
	case "currentReplicasIfLower":
		return min(current, fb.Replicas)
	default: // static; scalingModifiers falls back to static until formulas exist
		return fb.Replicas
	}
}

// fallbackValue is the metric value that makes the HPA settle at the
// fallback replica count: target × replicas for AverageValue targets (the
// HPA divides by the target), and the same for Value targets, as the HPA
// then compares the whole value with the target.
func fallbackValue(fb *kedav1.Fallback, target float64, current int32) float64 {
	return target * float64(fallbackReplicas(fb, current))
}

// setHealth writes status.health and the Fallback condition from the
// triggers' failure counts, and reports whether any trigger is in fallback.
func setHealth(so *kedav1.ScaledObject, status *kedav1.ScaledObjectStatus, ws []watched, entries map[int]store.Entry) bool {
	status.Health = map[string]kedav1.HealthStatus{}
	any := false
	for _, w := range ws {
		e := entries[w.index]
		n := int32(e.Failures)
		h := kedav1.HealthStatus{NumberOfFailures: &n, Status: kedav1.HealthStatusHappy}
		if e.Failures > 0 {
			h.Status = kedav1.HealthStatusFailing
		}
		status.Health[w.spec.MetricName] = h
		if inFallback(so.Spec.Fallback, e.Failures) {
			any = true
		}
	}
	if any {
		status.Conditions.SetCondition(kedav1.ConditionFallback, "True", kedav1.ReasonFallbackExists, "At least one trigger is falling back on this scaled object")
	} else {
		status.Conditions.SetCondition(kedav1.ConditionFallback, "False", kedav1.ReasonNoFallbackFound, "No fallbacks are active on this scaled object")
	}
	return any
}
