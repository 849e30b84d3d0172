package v1alpha1_test

import (
	"errors"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

// validScaledObject is a minimal object every check passes; cases change one thing.
func validScaledObject() *v1alpha1.ScaledObject {
	so := &v1alpha1.ScaledObject{}
	so.Name = "worker"
	so.Spec.ScaleTargetRef = &v1alpha1.ScaleTarget{Name: "worker"}
	so.Spec.Triggers = []v1alpha1.ScaleTrigger{{Type: "redis", Metadata: map[string]string{"listName": "q"}}}
	return so
}

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		modify func(so *v1alpha1.ScaledObject)
		want   []string // each must be one of the errors, in full
	}{
		{name: "minimal object is valid", modify: func(*v1alpha1.ScaledObject) {}},
		{
			name:   "name longer than 63",
			modify: func(so *v1alpha1.ScaledObject) { so.Name = long },
			want:   []string{`metadata.name "` + long + `": must be no more than 63 characters`},
		},
		{
			name:   "name of 55 makes the default HPA name too long",
			modify: func(so *v1alpha1.ScaledObject) { so.Name = strings.Repeat("b", 55) },
			want: []string{`metadata.name "` + strings.Repeat("b", 55) + `": the HPA name "keda-hpa-` + strings.Repeat("b", 55) +
				`" derived from it must be no more than 63 characters; shorten the name or set spec.advanced.horizontalPodAutoscalerConfig.name`},
		},
		{
			name: "name of 55 with a short custom HPA name is valid",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Name = strings.Repeat("b", 55)
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &v1alpha1.HorizontalPodAutoscalerConfig{Name: "short"}}
			},
		},
		{
			name: "custom HPA name too long",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{HorizontalPodAutoscalerConfig: &v1alpha1.HorizontalPodAutoscalerConfig{Name: long}}
			},
			want: []string{`spec.advanced.horizontalPodAutoscalerConfig.name "` + long + `": must be no more than 63 characters`},
		},
		{
			name:   "missing scale target",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.ScaleTargetRef = nil },
			want:   []string{`spec.scaleTargetRef.name "": required`},
		},
		{
			name:   "pollingInterval 0",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.PollingInterval = ptr.To[int32](0) },
			want:   []string{`spec.pollingInterval 0: must be at least 1`},
		},
		{
			name: "negative cooldowns",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.CooldownPeriod = ptr.To[int32](-1)
				so.Spec.InitialCooldownPeriod = ptr.To[int32](-2)
			},
			want: []string{`spec.cooldownPeriod -1: must not be negative`, `spec.initialCooldownPeriod -2: must not be negative`},
		},
		{
			name: "idle not below min",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.IdleReplicaCount = ptr.To[int32](3)
				so.Spec.MinReplicaCount = ptr.To[int32](2)
			},
			want: []string{`spec.idleReplicaCount 3: must be less than minReplicaCount 2`},
		},
		{
			name: "idle equal to min",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.IdleReplicaCount = ptr.To[int32](2)
				so.Spec.MinReplicaCount = ptr.To[int32](2)
			},
			want: []string{`spec.idleReplicaCount 2: must be less than minReplicaCount 2`},
		},
		{
			name: "idle 0 below min 1 is valid",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.IdleReplicaCount = ptr.To[int32](0)
				so.Spec.MinReplicaCount = ptr.To[int32](1)
			},
		},
		{
			name:   "idle with min unset (0) is rejected",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.IdleReplicaCount = ptr.To[int32](0) },
			want:   []string{`spec.idleReplicaCount 0: must be less than minReplicaCount 0`},
		},
		{
			name: "idle 0 with explicit min 0 is admitted, as KEDA does",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.IdleReplicaCount = ptr.To[int32](0)
				so.Spec.MinReplicaCount = ptr.To[int32](0)
			},
		},
		{
			name:   "negative idle",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.IdleReplicaCount = ptr.To[int32](-1) },
			want:   []string{`spec.idleReplicaCount -1: must not be negative`},
		},
		{
			name:   "negative min",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.MinReplicaCount = ptr.To[int32](-1) },
			want:   []string{`spec.minReplicaCount -1: must not be negative`},
		},
		{
			name: "min above max",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount = ptr.To[int32](5)
				so.Spec.MaxReplicaCount = ptr.To[int32](4)
			},
			want: []string{`spec.minReplicaCount 5: must not be greater than maxReplicaCount 4`},
		},
		{
			name:   "min above default max",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.MinReplicaCount = ptr.To[int32](101) },
			want:   []string{`spec.minReplicaCount 101: must not be greater than maxReplicaCount 100`},
		},
		{
			name: "min equal to max is valid",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount = ptr.To[int32](4)
				so.Spec.MaxReplicaCount = ptr.To[int32](4)
			},
		},
		{
			name:   "max 0",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.MaxReplicaCount = ptr.To[int32](0) },
			want:   []string{`spec.maxReplicaCount 0: must be at least 1`},
		},
		{
			name:   "no triggers",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.Triggers = nil },
			want:   []string{`spec.triggers []: at least one trigger is required`},
		},
		{
			name:   "trigger without type",
			modify: func(so *v1alpha1.ScaledObject) { so.Spec.Triggers[0].Type = "" },
			want:   []string{`spec.triggers[0].type "": required`},
		},
		{
			name: "duplicate trigger names",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers = []v1alpha1.ScaleTrigger{
					{Type: "redis", Name: "q"}, {Type: "kafka", Name: "k"}, {Type: "rabbitmq", Name: "q"},
				}
			},
			want: []string{`spec.triggers[2].name "q": must be unique, spec.triggers[0] has the same name`},
		},
		{
			name: "unnamed triggers are not duplicates",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers = []v1alpha1.ScaleTrigger{{Type: "redis"}, {Type: "kafka"}}
			},
		},
		{
			name: "useCachedMetrics on cpu, memory and cron",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount = ptr.To[int32](1)
				so.Spec.Triggers = []v1alpha1.ScaleTrigger{
					{Type: "cpu", UseCachedMetrics: true}, {Type: "memory", UseCachedMetrics: true},
					{Type: "cron", UseCachedMetrics: true}, {Type: "redis", UseCachedMetrics: true},
				}
			},
			want: []string{
				`spec.triggers[0].useCachedMetrics true: not supported for "cpu" triggers`,
				`spec.triggers[1].useCachedMetrics true: not supported for "memory" triggers`,
				`spec.triggers[2].useCachedMetrics true: not supported for "cron" triggers`,
			},
		},
		{
			name: "only cpu and memory with min unset",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers = []v1alpha1.ScaleTrigger{{Type: "cpu"}, {Type: "memory"}}
			},
			want: []string{`spec.minReplicaCount 0: must be at least 1 when every trigger is cpu or memory: they cannot scale to zero`},
		},
		{
			name: "only cpu with min 1 is valid",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount = ptr.To[int32](1)
				so.Spec.Triggers = []v1alpha1.ScaleTrigger{{Type: "cpu", MetricType: autoscalingv2.UtilizationMetricType}}
			},
		},
		{
			name: "cpu beside an external trigger with min 0 is valid",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers = append(so.Spec.Triggers, v1alpha1.ScaleTrigger{Type: "cpu"})
			},
		},
		{
			name: "fallback with only cpu and memory triggers",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.MinReplicaCount = ptr.To[int32](1)
				so.Spec.Triggers = []v1alpha1.ScaleTrigger{{Type: "cpu"}, {Type: "memory"}}
				so.Spec.Fallback = &v1alpha1.Fallback{FailureThreshold: 3, Replicas: 2}
			},
			want: []string{`spec.triggers ["cpu" "memory"]: fallback requires at least one trigger that is not cpu or memory`},
		},
		{
			name: "fallback with an external trigger and every allowed behavior",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Fallback = &v1alpha1.Fallback{FailureThreshold: 0, Replicas: 0, Behavior: "currentReplicasIfLower"}
			},
		},
		{
			name: "fallback negative numbers",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Fallback = &v1alpha1.Fallback{FailureThreshold: -1, Replicas: -2}
			},
			want: []string{`spec.fallback.failureThreshold -1: must not be negative`, `spec.fallback.replicas -2: must not be negative`},
		},
		{
			name: "fallback unknown behavior",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Fallback = &v1alpha1.Fallback{FailureThreshold: 3, Replicas: 2, Behavior: "maxReplicas"}
			},
			want: []string{`spec.fallback.behavior "maxReplicas": must be one of static, currentReplicas, currentReplicasIfHigher, currentReplicasIfLower, scalingModifiers`},
		},
		{
			name: "fallback behavior scalingModifiers without a formula",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Fallback = &v1alpha1.Fallback{FailureThreshold: 3, Replicas: 2, Behavior: "scalingModifiers"}
			},
			want: []string{`spec.fallback.behavior "scalingModifiers": requires spec.advanced.scalingModifiers.formula`},
		},
		{
			name: "fallback behavior scalingModifiers with a formula",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q * 2", Target: "5"}}
				so.Spec.Fallback = &v1alpha1.Fallback{FailureThreshold: 3, Replicas: 2, Behavior: "scalingModifiers"}
			},
		},
		{
			name: "modifiers without a formula",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Target: "5"}}
			},
			want: []string{`spec.advanced.scalingModifiers.formula "": required when scalingModifiers is set`},
		},
		{
			name: "formula without a target",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q"}}
			},
			want: []string{`spec.advanced.scalingModifiers.target "": required with a formula`},
		},
		{
			name: "target zero",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q", Target: "0"}}
			},
			want: []string{`spec.advanced.scalingModifiers.target "0": must be a number greater than 0`},
		},
		{
			name: "target not a number",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q", Target: "ten"}}
			},
			want: []string{`spec.advanced.scalingModifiers.target "ten": must be a number greater than 0`},
		},
		{
			name: "modifiers metricType Utilization",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{
					Formula: "q", Target: "2.5", MetricType: autoscalingv2.UtilizationMetricType,
				}}
			},
			want: []string{`spec.advanced.scalingModifiers.metricType "Utilization": must be AverageValue or Value`},
		},
		{
			name: "formula with no named trigger",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers = append(so.Spec.Triggers, v1alpha1.ScaleTrigger{Type: "cpu", Name: "c"})
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "c + 1", Target: "1"}}
			},
			want: []string{`spec.advanced.scalingModifiers.formula "c + 1": does not compile: unknown name c (1:1); no trigger other than cpu or memory has a name`},
		},
		{
			name: "formula naming an undefined trigger",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "a"
				so.Spec.Triggers = append(so.Spec.Triggers, v1alpha1.ScaleTrigger{Type: "redis", Name: "b"})
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "a + c", Target: "1"}}
			},
			want: []string{`spec.advanced.scalingModifiers.formula "a + c": does not compile: unknown name c (1:5); the trigger names it can use are a, b`},
		},
		{
			name: "formula naming a cpu trigger",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.MinReplicaCount = ptr.To[int32](1)
				so.Spec.Triggers = append(so.Spec.Triggers, v1alpha1.ScaleTrigger{Type: "cpu", Name: "c"})
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q + c", Target: "1"}}
			},
			want: []string{`spec.advanced.scalingModifiers.formula "q + c": does not compile: unknown name c (1:5); the trigger names it can use are q`},
		},
		{
			name: "formula that does not parse",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q +", Target: "1"}}
			},
			want: []string{`spec.advanced.scalingModifiers.formula "q +": does not compile: unexpected token EOF (1:3); the trigger names it can use are q`},
		},
		{
			name: "formula yielding a boolean",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q > 2", Target: "1"}}
			},
			want: []string{`spec.advanced.scalingModifiers.formula "q > 2": must yield a number, yields bool false`},
		},
		{
			name: "valid formula over two named triggers",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "a"
				so.Spec.Triggers = append(so.Spec.Triggers, v1alpha1.ScaleTrigger{Type: "redis", Name: "b"})
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{
					Formula: "(a + b) / 2", Target: "2.5", ActivationTarget: "1", MetricType: autoscalingv2.ValueMetricType}}
			},
		},
		{
			name: "activationTarget not a number",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q", Target: "1", ActivationTarget: "some"}}
			},
			want: []string{`spec.advanced.scalingModifiers.activationTarget "some": must be a number`},
		},
		{
			name: "modifiers metricType unknown",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.Triggers[0].Name = "q"
				so.Spec.Advanced = &v1alpha1.AdvancedConfig{ScalingModifiers: &v1alpha1.ScalingModifiers{Formula: "q", Target: "1", MetricType: "Average"}}
			},
			want: []string{`spec.advanced.scalingModifiers.metricType "Average": must be AverageValue or Value`},
		},
		{
			name: "every failure is reported",
			modify: func(so *v1alpha1.ScaledObject) {
				so.Spec.PollingInterval = ptr.To[int32](0)
				so.Spec.MaxReplicaCount = ptr.To[int32](0)
				so.Spec.Triggers = nil
			},
			want: []string{
				`spec.pollingInterval 0: must be at least 1`,
				`spec.maxReplicaCount 0: must be at least 1`,
				`spec.triggers []: at least one trigger is required`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			so := validScaledObject()
			tt.modify(so)
			err := so.Validate()
			got := fieldErrors(t, err)
			if len(got) != len(tt.want) {
				t.Fatalf("Validate() = %v\nwant %d errors: %q", err, len(tt.want), tt.want)
			}
			for i := range tt.want {
				if got[i] != tt.want[i] {
					t.Errorf("error %d:\n got %s\nwant %s", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// fieldErrors unpacks the joined errors of Validate, checking each is a *FieldError.
func fieldErrors(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Validate() returned %T, want joined errors", err)
	}
	var out []string
	for _, e := range joined.Unwrap() {
		var fe *v1alpha1.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is %T, want *FieldError", e, e)
		}
		out = append(out, fe.Error())
	}
	return out
}
