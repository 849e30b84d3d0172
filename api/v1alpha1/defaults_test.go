package v1alpha1_test

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

func TestScaledObjectDefaults(t *testing.T) {
	tests := []struct {
		name                                    string
		spec                                    v1alpha1.ScaledObjectSpec
		polling, cooldown, initialCooldown      time.Duration
		minReplicas, maxReplicas, hpaMinReplica int32
	}{
		{
			name:    "all unset take KEDA's defaults",
			polling: 30 * time.Second, cooldown: 300 * time.Second, initialCooldown: 0,
			minReplicas: 0, maxReplicas: 100, hpaMinReplica: 1,
		},
		{
			name: "set values are used as seconds and counts",
			spec: v1alpha1.ScaledObjectSpec{
				PollingInterval: ptr.To[int32](1), CooldownPeriod: ptr.To[int32](0), InitialCooldownPeriod: ptr.To[int32](90),
				MinReplicaCount: ptr.To[int32](3), MaxReplicaCount: ptr.To[int32](7),
			},
			polling: time.Second, cooldown: 0, initialCooldown: 90 * time.Second,
			minReplicas: 3, maxReplicas: 7, hpaMinReplica: 3,
		},
		{
			name:    "explicit zero minimum still gives the HPA a floor of 1",
			spec:    v1alpha1.ScaledObjectSpec{MinReplicaCount: ptr.To[int32](0)},
			polling: 30 * time.Second, cooldown: 300 * time.Second,
			minReplicas: 0, maxReplicas: 100, hpaMinReplica: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &tt.spec
			expect(t, "PollingIntervalOrDefault", s.PollingIntervalOrDefault(), tt.polling)
			expect(t, "CooldownPeriodOrDefault", s.CooldownPeriodOrDefault(), tt.cooldown)
			expect(t, "InitialCooldownPeriodOrDefault", s.InitialCooldownPeriodOrDefault(), tt.initialCooldown)
			expect(t, "MinReplicaCountOrDefault", s.MinReplicaCountOrDefault(), tt.minReplicas)
			expect(t, "MaxReplicaCountOrDefault", s.MaxReplicaCountOrDefault(), tt.maxReplicas)
			expect(t, "HPAMinReplicas", s.HPAMinReplicas(), tt.hpaMinReplica)
		})
	}
}

func TestScaledJobDefaults(t *testing.T) {
	tests := []struct {
		name                                     string
		spec                                     v1alpha1.ScaledJobSpec
		polling                                  time.Duration
		minReplicas, maxReplicas, success, fails int32
		rollout, propagation, strategy, multiple string
	}{
		{
			name:    "all unset take KEDA's defaults",
			polling: 30 * time.Second, minReplicas: 0, maxReplicas: 100, success: 100, fails: 100,
			rollout: "default", propagation: "background", strategy: "default", multiple: "max",
		},
		{
			name: "set values are used",
			spec: v1alpha1.ScaledJobSpec{
				PollingInterval: ptr.To[int32](5), MinReplicaCount: ptr.To[int32](2), MaxReplicaCount: ptr.To[int32](9),
				SuccessfulJobsHistoryLimit: ptr.To[int32](0), FailedJobsHistoryLimit: ptr.To[int32](3),
				Rollout:         v1alpha1.Rollout{Strategy: "gradual", PropagationPolicy: "foreground"},
				ScalingStrategy: v1alpha1.ScalingStrategy{Strategy: "eager", MultipleScalersCalculation: "sum"},
			},
			polling: 5 * time.Second, minReplicas: 2, maxReplicas: 9, success: 0, fails: 3,
			rollout: "gradual", propagation: "foreground", strategy: "eager", multiple: "sum",
		},
		{
			name:    "deprecated rolloutStrategy is read when rollout.strategy is empty",
			spec:    v1alpha1.ScaledJobSpec{RolloutStrategy: "gradual"},
			polling: 30 * time.Second, minReplicas: 0, maxReplicas: 100, success: 100, fails: 100,
			rollout: "gradual", propagation: "background", strategy: "default", multiple: "max",
		},
		{
			name:    "rollout.strategy wins over the deprecated field",
			spec:    v1alpha1.ScaledJobSpec{RolloutStrategy: "gradual", Rollout: v1alpha1.Rollout{Strategy: "default"}},
			polling: 30 * time.Second, minReplicas: 0, maxReplicas: 100, success: 100, fails: 100,
			rollout: "default", propagation: "background", strategy: "default", multiple: "max",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &tt.spec
			expect(t, "PollingIntervalOrDefault", s.PollingIntervalOrDefault(), tt.polling)
			expect(t, "MinReplicaCountOrDefault", s.MinReplicaCountOrDefault(), tt.minReplicas)
			expect(t, "MaxReplicaCountOrDefault", s.MaxReplicaCountOrDefault(), tt.maxReplicas)
			expect(t, "SuccessfulJobsHistoryLimitOrDefault", s.SuccessfulJobsHistoryLimitOrDefault(), tt.success)
			expect(t, "FailedJobsHistoryLimitOrDefault", s.FailedJobsHistoryLimitOrDefault(), tt.fails)
			expect(t, "RolloutStrategyOrDefault", s.RolloutStrategyOrDefault(), tt.rollout)
			expect(t, "PropagationPolicyOrDefault", s.PropagationPolicyOrDefault(), tt.propagation)
			expect(t, "StrategyOrDefault", s.ScalingStrategy.StrategyOrDefault(), tt.strategy)
			expect(t, "MultipleScalersCalculationOrDefault", s.ScalingStrategy.MultipleScalersCalculationOrDefault(), tt.multiple)
		})
	}
}

func TestFieldDefaults(t *testing.T) {
	tests := []struct {
		name      string
		got, want string
	}{
		{"scaleTargetRef apiVersion unset", (&v1alpha1.ScaleTarget{}).APIVersionOrDefault(), "apps/v1"},
		{"scaleTargetRef apiVersion set", (&v1alpha1.ScaleTarget{APIVersion: "argoproj.io/v1alpha1"}).APIVersionOrDefault(), "argoproj.io/v1alpha1"},
		{"scaleTargetRef kind unset", (&v1alpha1.ScaleTarget{}).KindOrDefault(), "Deployment"},
		{"scaleTargetRef kind set", (&v1alpha1.ScaleTarget{Kind: "StatefulSet"}).KindOrDefault(), "StatefulSet"},
		{"trigger metricType unset", string((&v1alpha1.ScaleTrigger{}).MetricTypeOrDefault()), "AverageValue"},
		{"trigger metricType set", string((&v1alpha1.ScaleTrigger{MetricType: autoscalingv2.ValueMetricType}).MetricTypeOrDefault()), "Value"},
		{"authenticationRef kind unset", (&v1alpha1.AuthenticationRef{}).AuthenticationKindOrDefault(), "TriggerAuthentication"},
		{"authenticationRef kind set", (&v1alpha1.AuthenticationRef{Kind: "ClusterTriggerAuthentication"}).AuthenticationKindOrDefault(), "ClusterTriggerAuthentication"},
		{"scalingModifiers metricType unset", string((&v1alpha1.ScalingModifiers{}).MetricTypeOrDefault()), "AverageValue"},
		{"scalingModifiers metricType set", string((&v1alpha1.ScalingModifiers{MetricType: autoscalingv2.ValueMetricType}).MetricTypeOrDefault()), "Value"},
		{"fallback behavior unset", (&v1alpha1.Fallback{}).BehaviorOrDefault(), "static"},
		{"fallback behavior set", (&v1alpha1.Fallback{Behavior: "currentReplicas"}).BehaviorOrDefault(), "currentReplicas"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { expect(t, "value", tt.got, tt.want) })
	}
}

func TestUsesScalingModifiers(t *testing.T) {
	tests := []struct {
		name     string
		advanced *v1alpha1.AdvancedConfig
		want     bool
	}{
		{"no advanced section", nil, false},
		{"advanced without modifiers", &v1alpha1.AdvancedConfig{RestoreToOriginalReplicaCount: true}, false},
		{"empty modifiers object", &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{}}, false},
		{"formula set", &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "a"}}, true},
		{"only target set", &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Target: "2"}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := v1alpha1.ScaledObjectSpec{Advanced: tt.advanced}
			expect(t, "UsesScalingModifiers", s.UsesScalingModifiers(), tt.want)
		})
	}
}
