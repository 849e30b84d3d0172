package scaler

import (
	"testing"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestCountJobs(t *testing.T) {
	q := func(v, target float64) JobTrigger { return JobTrigger{Known: true, Value: v, Target: target} }
	strategy := func(s string) kedav1.ScalingStrategy { return kedav1.ScalingStrategy{Strategy: s} }
	custom := func(deduction int32, pct string) kedav1.ScalingStrategy {
		return kedav1.ScalingStrategy{Strategy: kedav1.ScalingStrategyCustom, CustomScalingQueueLengthDeduction: &deduction, CustomScalingRunningJobPercentage: pct}
	}
	calc := func(c string) kedav1.ScalingStrategy { return kedav1.ScalingStrategy{MultipleScalersCalculation: c} }
	cases := []struct {
		name     string
		in       JobInput
		create   int64
		active   bool
		scaleTo  int64
		maxScale int64
		strategy string
	}{
		// default: effMax = maxScale - running
		{name: "default: an idle queue creates nothing",
			in: JobInput{Triggers: []JobTrigger{q(0, 1)}}, strategy: "default"},
		{name: "default: N items create N Jobs",
			in: JobInput{Triggers: []JobTrigger{q(7, 1)}}, create: 7, active: true, scaleTo: 7, maxScale: 7, strategy: "default"},
		{name: "default: running Jobs are deducted",
			in: JobInput{Triggers: []JobTrigger{q(7, 1)}, Running: 5}, create: 2, active: true, scaleTo: 7, maxScale: 7, strategy: "default"},
		{name: "default: target 2 halves the Jobs, rounded up",
			in: JobInput{Triggers: []JobTrigger{q(7, 2)}}, create: 4, active: true, scaleTo: 7, maxScale: 4, strategy: "default"},
		{name: "default: fractional queue rounds up",
			in: JobInput{Triggers: []JobTrigger{q(0.5, 1)}}, create: 1, active: true, scaleTo: 1, maxScale: 1, strategy: "default"},
		{name: "default: more running than wanted creates nothing",
			in: JobInput{Triggers: []JobTrigger{q(3, 1)}, Running: 9}, active: true, scaleTo: 3, maxScale: 3, strategy: "default"},
		{name: "default: target 0 gives maxScale 0",
			in: JobInput{Triggers: []JobTrigger{q(3, 0)}}, active: true, scaleTo: 3, strategy: "default"},
		{name: "default: maxReplicaCount caps",
			in: JobInput{Triggers: []JobTrigger{q(500, 1)}, MaxReplicaCount: ptr(10)}, create: 10, active: true, scaleTo: 500, maxScale: 10, strategy: "default"},
		{name: "default: unset maxReplicaCount is 100",
			in: JobInput{Triggers: []JobTrigger{q(500, 1)}}, create: 100, active: true, scaleTo: 500, maxScale: 100, strategy: "default"},
		{name: "unknown strategy is default",
			in: JobInput{Triggers: []JobTrigger{q(7, 1)}, ScalingStrategy: strategy("fancy"), Running: 5}, create: 2, active: true, scaleTo: 7, maxScale: 7, strategy: "default"},

		// minReplicaCount and the effective maximum
		{name: "min: below min creates the difference, whatever the queue",
			in: JobInput{Triggers: []JobTrigger{q(0, 1)}, MinReplicaCount: ptr(3), Running: 1}, create: 2, active: true, strategy: "default"},
		{name: "min: max - min is the effective maximum",
			in: JobInput{Triggers: []JobTrigger{q(50, 1)}, MinReplicaCount: ptr(2), MaxReplicaCount: ptr(10), Running: 2}, create: 8, active: true, scaleTo: 50, maxScale: 8, strategy: "default"},
		{name: "min: running above min are deducted",
			in: JobInput{Triggers: []JobTrigger{q(50, 1)}, MinReplicaCount: ptr(2), MaxReplicaCount: ptr(10), Running: 7}, create: 3, active: true, scaleTo: 50, maxScale: 8, strategy: "default"},
		{name: "min: min above max: min becomes max, and the effective maximum is max",
			in: JobInput{Triggers: []JobTrigger{q(50, 1)}, MinReplicaCount: ptr(9), MaxReplicaCount: ptr(4), Running: 4}, create: 4, active: true, scaleTo: 50, maxScale: 4, strategy: "default"},
		{name: "min: min with unset max leaves the effective maximum at 100",
			in: JobInput{Triggers: []JobTrigger{q(500, 1)}, MinReplicaCount: ptr(5), Running: 5}, create: 100, active: true, scaleTo: 500, maxScale: 100, strategy: "default"},
		{name: "min: min > 0 is active with an idle queue, but creates nothing at min",
			in: JobInput{Triggers: []JobTrigger{q(0, 1)}, MinReplicaCount: ptr(2), Running: 2}, active: true, strategy: "default"},

		// custom: min(maxScale - deduction - int(r × pct), M)
		{name: "custom: deduction and running percentage",
			in: JobInput{Triggers: []JobTrigger{q(10, 1)}, ScalingStrategy: custom(1, "0.5"), Running: 3}, create: 8, active: true, scaleTo: 10, maxScale: 10, strategy: "custom"},
		{name: "custom: int() truncates the running share",
			in: JobInput{Triggers: []JobTrigger{q(10, 1)}, ScalingStrategy: custom(0, "0.5"), Running: 5}, create: 8, active: true, scaleTo: 10, maxScale: 10, strategy: "custom"},
		{name: "custom: capped at the effective maximum",
			in: JobInput{Triggers: []JobTrigger{q(50, 1)}, ScalingStrategy: custom(0, "0"), MaxReplicaCount: ptr(10), Running: 9}, create: 10, active: true, scaleTo: 50, maxScale: 10, strategy: "custom"},
		{name: "custom: full running share",
			in: JobInput{Triggers: []JobTrigger{q(4, 1)}, ScalingStrategy: custom(1, "1.0"), Running: 3}, active: true, scaleTo: 4, maxScale: 4, strategy: "custom"},
		{name: "custom: unparsable percentage falls back to default",
			in: JobInput{Triggers: []JobTrigger{q(10, 1)}, ScalingStrategy: custom(4, "half"), Running: 3}, create: 7, active: true, scaleTo: 10, maxScale: 10, strategy: "default"},
		{name: "custom: empty percentage falls back to default",
			in: JobInput{Triggers: []JobTrigger{q(10, 1)}, ScalingStrategy: custom(4, ""), Running: 3}, create: 7, active: true, scaleTo: 10, maxScale: 10, strategy: "default"},

		// accurate: M - r when maxScale + r - pending > M, else maxScale - pending
		{name: "accurate: below the maximum, pending Jobs are deducted",
			in: JobInput{Triggers: []JobTrigger{q(5, 1)}, ScalingStrategy: strategy("accurate"), MaxReplicaCount: ptr(10), Running: 4, Pending: 2}, create: 3, active: true, scaleTo: 5, maxScale: 5, strategy: "accurate"},
		{name: "accurate: running Jobs that started are not deducted",
			in: JobInput{Triggers: []JobTrigger{q(5, 1)}, ScalingStrategy: strategy("accurate"), MaxReplicaCount: ptr(10), Running: 4}, create: 5, active: true, scaleTo: 5, maxScale: 5, strategy: "accurate"},
		{name: "accurate: above the maximum, fills it",
			in: JobInput{Triggers: []JobTrigger{q(8, 1)}, ScalingStrategy: strategy("accurate"), MaxReplicaCount: ptr(10), Running: 6, Pending: 1}, create: 4, active: true, scaleTo: 8, maxScale: 8, strategy: "accurate"},
		{name: "accurate: every running Job pending creates nothing more",
			in: JobInput{Triggers: []JobTrigger{q(4, 1)}, ScalingStrategy: strategy("accurate"), MaxReplicaCount: ptr(10), Running: 4, Pending: 4}, active: true, scaleTo: 4, maxScale: 4, strategy: "accurate"},

		// eager: min(M - r - pending, maxScale), scaleTo = M
		{name: "eager: fills free slots up to the queue",
			in: JobInput{Triggers: []JobTrigger{q(3, 1)}, ScalingStrategy: strategy("eager"), MaxReplicaCount: ptr(10), Running: 4}, create: 3, active: true, scaleTo: 3, maxScale: 3, strategy: "eager"},
		{name: "eager: pending Jobs take slots",
			in: JobInput{Triggers: []JobTrigger{q(4, 1)}, ScalingStrategy: strategy("eager"), MaxReplicaCount: ptr(10), Running: 4, Pending: 4}, create: 2, active: true, scaleTo: 4, maxScale: 4, strategy: "eager"},
		{name: "eager: no free slot",
			in: JobInput{Triggers: []JobTrigger{q(9, 1)}, ScalingStrategy: strategy("eager"), MaxReplicaCount: ptr(10), Running: 10}, active: true, scaleTo: 9, maxScale: 9, strategy: "eager"},

		// multipleScalersCalculation, over active triggers only
		{name: "max: the largest active queue",
			in: JobInput{Triggers: []JobTrigger{q(3, 1), q(8, 2), q(0, 1)}}, create: 4, active: true, scaleTo: 8, maxScale: 4, strategy: "default"},
		{name: "max: an inactive trigger's queue is ignored",
			in: JobInput{Triggers: []JobTrigger{q(3, 1), {Known: true, Value: 9, Target: 1, Activation: 10}}}, create: 3, active: true, scaleTo: 3, maxScale: 3, strategy: "default"},
		{name: "min: the smallest active queue, 0 ignored",
			in: JobInput{Triggers: []JobTrigger{q(6, 1), q(0, 1), q(2, 1)}, ScalingStrategy: calc("min")}, create: 2, active: true, scaleTo: 2, maxScale: 2, strategy: "default"},
		{name: "avg: means of queue and Job counts",
			in: JobInput{Triggers: []JobTrigger{q(6, 1), q(3, 3), q(0, 1)}, ScalingStrategy: calc("avg")}, create: 4, active: true, scaleTo: 5, maxScale: 4, strategy: "default"},
		{name: "sum: sums of queue and Job counts",
			in: JobInput{Triggers: []JobTrigger{q(6, 1), q(3, 3)}, ScalingStrategy: calc("sum")}, create: 7, active: true, scaleTo: 9, maxScale: 7, strategy: "default"},
		{name: "sum: capped at the effective maximum after summing",
			in: JobInput{Triggers: []JobTrigger{q(8, 1), q(8, 1)}, ScalingStrategy: calc("sum"), MaxReplicaCount: ptr(10)}, create: 10, active: true, scaleTo: 16, maxScale: 10, strategy: "default"},
		{name: "unknown and failing triggers are left out",
			in: JobInput{Triggers: []JobTrigger{{Value: 9, Target: 1}, {Known: true, Failing: true, Value: 7, Target: 1}, q(2, 1)}}, create: 2, active: true, scaleTo: 2, maxScale: 2, strategy: "default"},
		{name: "nothing known is inactive",
			in: JobInput{Triggers: []JobTrigger{{Value: 9, Target: 1}}}, strategy: "default"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := CountJobs(tc.in)
			want := JobCount{Active: tc.active, Create: tc.create, ScaleTo: tc.scaleTo, MaxScale: tc.maxScale, Strategy: tc.strategy}
			if got != want {
				t.Fatalf("CountJobs = %+v, want %+v", got, want)
			}
		})
	}
}

// TestCountJobsFixedPoint follows a queue that never shrinks through
// successive decisions (each seeing the Jobs the previous ones created) to
// where each strategy stops: the counts the e2e tests expect.
func TestCountJobsFixedPoint(t *testing.T) {
	d1 := int32(1)
	cases := []struct {
		name    string
		s       kedav1.ScalingStrategy
		pending bool // every Job stays pending
		want    int64
	}{
		{name: "default", want: 4},
		{name: "custom deduction 1, percentage 1", s: kedav1.ScalingStrategy{Strategy: "custom", CustomScalingQueueLengthDeduction: &d1, CustomScalingRunningJobPercentage: "1"}, want: 3},
		{name: "accurate, Pods pending", s: kedav1.ScalingStrategy{Strategy: "accurate"}, pending: true, want: 4},
		{name: "accurate, Pods running", s: kedav1.ScalingStrategy{Strategy: "accurate"}, want: 10},
		{name: "eager, Pods pending", s: kedav1.ScalingStrategy{Strategy: "eager"}, pending: true, want: 6},
		{name: "eager, Pods running", s: kedav1.ScalingStrategy{Strategy: "eager"}, want: 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var running int64
			for range 20 {
				in := JobInput{Triggers: []JobTrigger{{Known: true, Value: 4, Target: 1}}, MaxReplicaCount: ptr(10), ScalingStrategy: tc.s, Running: running}
				if tc.pending {
					in.Pending = running
				}
				running += CountJobs(in).Create
			}
			if running != tc.want {
				t.Fatalf("%d Jobs, want %d", running, tc.want)
			}
		})
	}
}
