package scaler

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
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
	case kedav1.FallbackBehaviorCurrentReplicas:
		return current
	case kedav1.FallbackBehaviorCurrentReplicasIfHigher:
		return max(current, fb.Replicas)
	case kedav1.FallbackBehaviorCurrentReplicasIfLower:
		return min(current, fb.Replicas)
	default: // static; scalingModifiers where a trigger falls back alone
		return fb.Replicas
	}
}

// fallbackMetric is the metric value that makes the HPA settle at replicas
// for a metric with target target (KEDA's pkg/fallback doFallback):
//
//   - AverageValue: target × replicas, as the HPA divides the value by the
//     target to get its replica count;
//   - Value: target × replicas / ready pods, as the HPA multiplies the
//     ratio value/target by the number of ready pods. ready is only called
//     here; with no ready pod (or when it fails) there is no such value and
//     the error makes the HPA hold, as KEDA does.
func fallbackMetric(target float64, replicas int32, typ autoscalingv2.MetricTargetType, ready func() (int32, error)) (float64, error) {
	v := target * float64(replicas)
	if typ != autoscalingv2.ValueMetricType {
		return v, nil
	}
	n, err := ready()
	if err != nil {
		return 0, fmt.Errorf("%w for a Value target: counting the ready pods: %v", errFallbackUnavailable, err)
	}
	if n <= 0 {
		return 0, fmt.Errorf("%w for a Value target: no pod of the target is ready", errFallbackUnavailable)
	}
	return v / float64(n), nil
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
