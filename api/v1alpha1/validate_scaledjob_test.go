package v1alpha1

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestScaledJobValidate(t *testing.T) {
	n := func(v int32) *int32 { return &v }
	valid := func(mod func(*ScaledJob)) *ScaledJob {
		sj := &ScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "sj"}, Spec: ScaledJobSpec{
			JobTargetRef: &batchv1.JobSpec{},
			Triggers:     []ScaleTrigger{{Type: "webhook", Metadata: map[string]string{"stream": "s"}}},
		}}
		if mod != nil {
			mod(sj)
		}
		return sj
	}
	cases := []struct {
		name string
		sj   *ScaledJob
		want string // "" valid, else a substring of the error
	}{
		{name: "minimal", sj: valid(nil)},
		{name: "min above max is admitted (KEDA uses max for both)", sj: valid(func(sj *ScaledJob) { sj.Spec.MinReplicaCount, sj.Spec.MaxReplicaCount = n(5), n(2) })},
		{name: "unparsable custom percentage is admitted (falls back to default)", sj: valid(func(sj *ScaledJob) {
			sj.Spec.ScalingStrategy = ScalingStrategy{Strategy: "custom", CustomScalingRunningJobPercentage: "half"}
		})},
		{name: "no jobTargetRef", sj: valid(func(sj *ScaledJob) { sj.Spec.JobTargetRef = nil }), want: "spec.jobTargetRef null: required"},
		{name: "no triggers", sj: valid(func(sj *ScaledJob) { sj.Spec.Triggers = nil }), want: "spec.triggers []: at least one trigger is required"},
		{name: "metricType", sj: valid(func(sj *ScaledJob) { sj.Spec.Triggers[0].MetricType = "Value" }), want: `spec.triggers[0].metricType "Value": must not be set`},
		{name: "external-push", sj: valid(func(sj *ScaledJob) { sj.Spec.Triggers[0].Type = "external-push" }), want: `spec.triggers[0].type "external-push": not supported for ScaledJobs`},
		{name: "duplicate names", sj: valid(func(sj *ScaledJob) {
			sj.Spec.Triggers = []ScaleTrigger{{Type: "webhook", Name: "a"}, {Type: "webhook", Name: "a"}}
		}), want: `spec.triggers[1].name "a": must be unique`},
		{name: "strategy", sj: valid(func(sj *ScaledJob) { sj.Spec.ScalingStrategy.Strategy = "fast" }), want: `spec.scalingStrategy.strategy "fast": must be one of`},
		{name: "calculation", sj: valid(func(sj *ScaledJob) { sj.Spec.ScalingStrategy.MultipleScalersCalculation = "median" }), want: "spec.scalingStrategy.multipleScalersCalculation"},
		{name: "rollout", sj: valid(func(sj *ScaledJob) { sj.Spec.Rollout.Strategy = "now" }), want: "spec.rollout.strategy"},
		{name: "deprecated rolloutStrategy", sj: valid(func(sj *ScaledJob) { sj.Spec.RolloutStrategy = "now" }), want: "spec.rolloutStrategy"},
		{name: "propagationPolicy", sj: valid(func(sj *ScaledJob) { sj.Spec.Rollout.PropagationPolicy = "orphan" }), want: "spec.rollout.propagationPolicy"},
		{name: "negative history", sj: valid(func(sj *ScaledJob) { sj.Spec.FailedJobsHistoryLimit = n(-1) }), want: "spec.failedJobsHistoryLimit -1: must not be negative"},
		{name: "pollingInterval", sj: valid(func(sj *ScaledJob) { sj.Spec.PollingInterval = n(0) }), want: "spec.pollingInterval 0: must be at least 1"},
		{name: "long name", sj: valid(func(sj *ScaledJob) { sj.Name = strings.Repeat("a", 64) }), want: "metadata.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sj.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}
}
