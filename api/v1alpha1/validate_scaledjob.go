package v1alpha1

import (
	"errors"
	"fmt"
	"strconv"
)

// triggerTypeExternalPush is KEDA's push-based external scaler, which KEDA
// does not support for ScaledJobs.
const triggerTypeExternalPush = "external-push"

// Validate performs KEDA's checks of a ScaledJob that need no API lookups, and the CRD's
// bounds: the name (a label value on every Job), jobTargetRef, pollingInterval, replica
// counts and history limits, the scaling and rollout strategies, and the triggers (at least
// one, unique names, no metricType, no cpu, memory or external-push trigger). minReplicaCount
// above maxReplicaCount is admitted: KEDA then uses maxReplicaCount for both. It returns nil
// or all failures joined (errors.Join) as *FieldError.
func (sj *ScaledJob) Validate() error {
	var v validator
	if len(sj.Name) > MaxNameLength {
		v.add("metadata.name", quote(sj.Name), fmt.Sprintf("must be no more than %d characters (it is the %s label of every Job)", MaxNameLength, LabelScaledJobName))
	}
	s := &sj.Spec
	if s.JobTargetRef == nil {
		v.add("spec.jobTargetRef", "null", "required")
	}
	if p := s.PollingInterval; p != nil && *p < 1 {
		v.add("spec.pollingInterval", itoa(*p), "must be at least 1")
	}
	for _, f := range []struct {
		name string
		v    *int32
	}{
		{"spec.minReplicaCount", s.MinReplicaCount}, {"spec.maxReplicaCount", s.MaxReplicaCount},
		{"spec.successfulJobsHistoryLimit", s.SuccessfulJobsHistoryLimit}, {"spec.failedJobsHistoryLimit", s.FailedJobsHistoryLimit},
	} {
		if f.v != nil && *f.v < 0 {
			v.add(f.name, itoa(*f.v), "must not be negative")
		}
	}
	v.jobStrategies(s)
	v.jobTriggers(s)
	return errors.Join(v.errs...)
}

func (v *validator) jobStrategies(s *ScaledJobSpec) {
	oneOf := func(field, val string, allowed ...string) {
		if val == "" {
			return
		}
		for _, a := range allowed {
			if val == a {
				return
			}
		}
		v.add(field, quote(val), fmt.Sprintf("must be one of %q", allowed))
	}
	ss := &s.ScalingStrategy
	oneOf("spec.scalingStrategy.strategy", ss.Strategy, ScalingStrategyDefault, ScalingStrategyCustom, ScalingStrategyAccurate, ScalingStrategyEager)
	oneOf("spec.scalingStrategy.multipleScalersCalculation", ss.MultipleScalersCalculation,
		MultipleScalersCalculationMax, MultipleScalersCalculationMin, MultipleScalersCalculationAvg, MultipleScalersCalculationSum)
	oneOf("spec.rollout.strategy", s.Rollout.Strategy, RolloutStrategyDefault, RolloutStrategyGradual)
	oneOf("spec.rolloutStrategy", s.RolloutStrategy, RolloutStrategyDefault, RolloutStrategyGradual)
	oneOf("spec.rollout.propagationPolicy", s.Rollout.PropagationPolicy, PropagationPolicyBackground, PropagationPolicyForeground)
	if d := ss.CustomScalingQueueLengthDeduction; d != nil && *d < 0 {
		v.add("spec.scalingStrategy.customScalingQueueLengthDeduction", itoa(*d), "must not be negative")
	}
	// An unparsable customScalingRunningJobPercentage is admitted: KEDA falls back to the
	// default strategy.
	if p := ss.CustomScalingRunningJobPercentage; p != "" {
		if f, err := strconv.ParseFloat(p, 64); err == nil && f < 0 {
			v.add("spec.scalingStrategy.customScalingRunningJobPercentage", quote(p), "must not be negative")
		}
	}
}

func (v *validator) jobTriggers(s *ScaledJobSpec) {
	if len(s.Triggers) == 0 {
		v.add("spec.triggers", "[]", "at least one trigger is required")
		return
	}
	byName := make(map[string]int, len(s.Triggers))
	for i, t := range s.Triggers {
		path := fmt.Sprintf("spec.triggers[%d]", i)
		switch {
		case t.Type == "":
			v.add(path+".type", quote(""), "required")
		case isResourceTrigger(t.Type):
			v.add(path+".type", quote(t.Type), "cpu and memory triggers scale Pods through an HPA; a ScaledJob has none")
		case t.Type == triggerTypeExternalPush:
			v.add(path+".type", quote(t.Type), "not supported for ScaledJobs (as in KEDA); use external")
		}
		if t.UseCachedMetrics && t.Type == triggerTypeCron {
			v.add(path+".useCachedMetrics", "true", fmt.Sprintf("not supported for %q triggers", t.Type))
		}
		if t.MetricType != "" {
			v.add(path+".metricType", quote(string(t.MetricType)), "must not be set in ScaledJob triggers")
		}
		v.uniqueName(byName, path, t.Name, i)
	}
}
