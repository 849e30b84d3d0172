package v1alpha1

import (
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// KEDA's defaults for unset fields. The CRDs do not fill them in (except fallback.behavior),
// so every reader goes through the accessors below.
const (
	DefaultPollingInterval       = 30 * time.Second
	DefaultCooldownPeriod        = 300 * time.Second
	DefaultInitialCooldownPeriod = time.Duration(0)
	DefaultMinReplicaCount       = int32(0)
	DefaultMaxReplicaCount       = int32(100)
	DefaultJobsHistoryLimit      = int32(100)
	DefaultScaleTargetAPIVersion = "apps/v1"
	DefaultScaleTargetKind       = "Deployment"
)

// Fallback behaviors (fallback.behavior); static is the default.
const (
	FallbackBehaviorStatic                  = "static"
	FallbackBehaviorCurrentReplicas         = "currentReplicas"
	FallbackBehaviorCurrentReplicasIfHigher = "currentReplicasIfHigher"
	FallbackBehaviorCurrentReplicasIfLower  = "currentReplicasIfLower"
	FallbackBehaviorScalingModifiers        = "scalingModifiers"
)

// ScaledJob scaling strategies, multiple-scaler calculations and rollout settings; the first
// of each group is the default.
const (
	ScalingStrategyDefault  = "default"
	ScalingStrategyCustom   = "custom"
	ScalingStrategyAccurate = "accurate"
	ScalingStrategyEager    = "eager"

	MultipleScalersCalculationMax = "max"
	MultipleScalersCalculationMin = "min"
	MultipleScalersCalculationAvg = "avg"
	MultipleScalersCalculationSum = "sum"

	RolloutStrategyDefault = "default"
	RolloutStrategyGradual = "gradual"

	PropagationPolicyBackground = "background"
	PropagationPolicyForeground = "foreground"
)

func seconds(v *int32, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	return time.Duration(*v) * time.Second
}

func int32Or(v *int32, def int32) int32 {
	if v == nil {
		return def
	}
	return *v
}

// PollingIntervalOrDefault returns pollingInterval, 30s when unset.
func (s *ScaledObjectSpec) PollingIntervalOrDefault() time.Duration {
	return seconds(s.PollingInterval, DefaultPollingInterval)
}

// CooldownPeriodOrDefault returns cooldownPeriod, 300s when unset.
func (s *ScaledObjectSpec) CooldownPeriodOrDefault() time.Duration {
	return seconds(s.CooldownPeriod, DefaultCooldownPeriod)
}

// InitialCooldownPeriodOrDefault returns initialCooldownPeriod, 0 when unset.
func (s *ScaledObjectSpec) InitialCooldownPeriodOrDefault() time.Duration {
	return seconds(s.InitialCooldownPeriod, DefaultInitialCooldownPeriod)
}

// MinReplicaCountOrDefault returns minReplicaCount, 0 when unset.
func (s *ScaledObjectSpec) MinReplicaCountOrDefault() int32 {
	return int32Or(s.MinReplicaCount, DefaultMinReplicaCount)
}

// MaxReplicaCountOrDefault returns maxReplicaCount, 100 when unset.
func (s *ScaledObjectSpec) MaxReplicaCountOrDefault() int32 {
	return int32Or(s.MaxReplicaCount, DefaultMaxReplicaCount)
}

// HPAMinReplicas returns the HPA's minReplicas: minReplicaCount, or 1 when it is 0 or unset
// (an HPA cannot go below 1; pushscale itself does 1<->0).
func (s *ScaledObjectSpec) HPAMinReplicas() int32 {
	return max(s.MinReplicaCountOrDefault(), 1)
}

// UsesScalingModifiers reports whether advanced.scalingModifiers has any field set, in which
// case the external metrics are replaced by the composite metric.
func (s *ScaledObjectSpec) UsesScalingModifiers() bool {
	return s.Advanced != nil && s.Advanced.ScalingModifiers != nil && *s.Advanced.ScalingModifiers != ScalingModifiers{}
}

// APIVersionOrDefault returns apiVersion, apps/v1 when empty.
func (t *ScaleTarget) APIVersionOrDefault() string {
	if t.APIVersion == "" {
		return DefaultScaleTargetAPIVersion
	}
	return t.APIVersion
}

// KindOrDefault returns kind, Deployment when empty.
func (t *ScaleTarget) KindOrDefault() string {
	if t.Kind == "" {
		return DefaultScaleTargetKind
	}
	return t.Kind
}

// MetricTypeOrDefault returns the trigger's metricType, AverageValue when empty.
func (t *ScaleTrigger) MetricTypeOrDefault() autoscalingv2.MetricTargetType {
	if t.MetricType == "" {
		return autoscalingv2.AverageValueMetricType
	}
	return t.MetricType
}

// AuthenticationKindOrDefault returns authenticationRef.kind, TriggerAuthentication when
// empty.
func (r *AuthenticationRef) AuthenticationKindOrDefault() string {
	if r.Kind == "" {
		return KindTriggerAuthentication
	}
	return r.Kind
}

// MetricTypeOrDefault returns scalingModifiers.metricType, AverageValue when empty.
func (m *ScalingModifiers) MetricTypeOrDefault() autoscalingv2.MetricTargetType {
	if m.MetricType == "" {
		return autoscalingv2.AverageValueMetricType
	}
	return m.MetricType
}

// BehaviorOrDefault returns fallback.behavior, static when empty (objects not defaulted by
// the API server, e.g. in tests).
func (f *Fallback) BehaviorOrDefault() string {
	if f.Behavior == "" {
		return FallbackBehaviorStatic
	}
	return f.Behavior
}

// PollingIntervalOrDefault returns pollingInterval, 30s when unset.
func (s *ScaledJobSpec) PollingIntervalOrDefault() time.Duration {
	return seconds(s.PollingInterval, DefaultPollingInterval)
}

// MinReplicaCountOrDefault returns minReplicaCount, 0 when unset.
func (s *ScaledJobSpec) MinReplicaCountOrDefault() int32 {
	return int32Or(s.MinReplicaCount, DefaultMinReplicaCount)
}

// MaxReplicaCountOrDefault returns maxReplicaCount, 100 when unset.
func (s *ScaledJobSpec) MaxReplicaCountOrDefault() int32 {
	return int32Or(s.MaxReplicaCount, DefaultMaxReplicaCount)
}

// SuccessfulJobsHistoryLimitOrDefault returns successfulJobsHistoryLimit, 100 when unset.
func (s *ScaledJobSpec) SuccessfulJobsHistoryLimitOrDefault() int32 {
	return int32Or(s.SuccessfulJobsHistoryLimit, DefaultJobsHistoryLimit)
}

// FailedJobsHistoryLimitOrDefault returns failedJobsHistoryLimit, 100 when unset.
func (s *ScaledJobSpec) FailedJobsHistoryLimitOrDefault() int32 {
	return int32Or(s.FailedJobsHistoryLimit, DefaultJobsHistoryLimit)
}

// RolloutStrategyOrDefault returns rollout.strategy, else the deprecated rolloutStrategy,
// else default.
func (s *ScaledJobSpec) RolloutStrategyOrDefault() string {
	switch {
	case s.Rollout.Strategy != "":
		return s.Rollout.Strategy
	case s.RolloutStrategy != "":
		return s.RolloutStrategy
	}
	return RolloutStrategyDefault
}

// PropagationPolicyOrDefault returns rollout.propagationPolicy, background when empty.
func (s *ScaledJobSpec) PropagationPolicyOrDefault() string {
	if s.Rollout.PropagationPolicy == "" {
		return PropagationPolicyBackground
	}
	return s.Rollout.PropagationPolicy
}

// StrategyOrDefault returns scalingStrategy.strategy, default when empty.
func (s *ScalingStrategy) StrategyOrDefault() string {
	if s.Strategy == "" {
		return ScalingStrategyDefault
	}
	return s.Strategy
}

// MultipleScalersCalculationOrDefault returns scalingStrategy.multipleScalersCalculation, max
// when empty.
func (s *ScalingStrategy) MultipleScalersCalculationOrDefault() string {
	if s.MultipleScalersCalculation == "" {
		return MultipleScalersCalculationMax
	}
	return s.MultipleScalersCalculation
}
