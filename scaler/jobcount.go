package scaler

import (
	"math"
	"strconv"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// JobTrigger is what a ScaledJob's job count knows of one trigger.
type JobTrigger struct {
	// Known is false until the trigger's first successful read; Failing
	// is true while its last read failed. Either leaves the trigger out
	// of the count, as KEDA leaves out a scaler whose read errs.
	Known, Failing bool
	// Value is the queue length the trigger reports.
	Value float64
	// Target is the trigger's target average value (its per-Job share).
	Target float64
	// Activation is the activation threshold: active when Value > Activation.
	Activation float64
}

// JobInput is everything a ScaledJob's job count depends on.
type JobInput struct {
	Triggers []JobTrigger
	// MinReplicaCount and MaxReplicaCount are the spec's (nil: unset).
	MinReplicaCount, MaxReplicaCount *int32
	// ScalingStrategy is spec.scalingStrategy (strategy, custom
	// parameters, multipleScalersCalculation).
	ScalingStrategy kedav1.ScalingStrategy
	// Running counts the ScaledJob's Jobs without a Complete or Failed
	// condition, Jobs created but not observed yet included.
	Running int64
	// Pending counts the running Jobs none of whose Pods has started (see
	// jobPending).
	Pending int64
}

// JobCount is the outcome of CountJobs.
type JobCount struct {
	// Active is true when any counted trigger is active, or minReplicaCount > 0.
	Active bool
	// Create is the number of Jobs to create now.
	Create int64
	// ScaleTo and MaxScale are KEDA's intermediate figures (for logs):
	// the combined queue length and the combined Job count, rounded up.
	ScaleTo, MaxScale int64
	// Strategy is the strategy applied (custom with an unparsable
	// percentage falls back to default).
	Strategy string
}

// CountJobs returns how many Jobs a ScaledJob creates now, by KEDA's
// formulas (pkg/scaling/scaledjob and pkg/scaling/executor/scale_jobs.go):
//
//  1. Per trigger: queueLength is its value; maxValue is queueLength /
//     target, capped at M = the effective maximum (see jobMaxReplicas);
//     0 when the target is 0. Triggers not known or failing are left out.
//  2. The active triggers are combined by multipleScalersCalculation:
//     max takes the trigger with the largest queueLength, min the one with
//     the smallest non-zero queueLength (0 counts as unset), avg the means
//     of queueLength and maxValue, sum their sums. The ScaledJob is active
//     when a combined trigger is, or when minReplicaCount > 0.
//     scaleTo = ceil(queueLength), maxScale = ceil(min(maxValue, M)).
//  3. With running < min: min - running Jobs are created. Otherwise, with
//     r = running - min:
//     default:  effMax = maxScale - r;
//     custom:   effMax = min(maxScale - deduction - int(r × percentage), M),
//     or default when the percentage does not parse as a number;
//     accurate: effMax = M - r if maxScale + r - pending > M,
//     else maxScale - pending;
//     eager:    effMax = min(M - r - pending, maxScale), and scaleTo = M.
//  4. When active and effMax > 0, min(scaleTo, effMax) Jobs are created.
//
// It is a pure function.
func CountJobs(in JobInput) JobCount {
	minJobs, maxJobs := jobMinReplicas(in.MinReplicaCount, in.MaxReplicaCount), jobMaxReplicas(in.MinReplicaCount, in.MaxReplicaCount)
	active, queue, value := combine(in.Triggers, in.ScalingStrategy.MultipleScalersCalculationOrDefault(), maxJobs)
	if minJobs > 0 {
		active = true
	}
	out := JobCount{Active: active, ScaleTo: ceil(queue), MaxScale: ceil(min(value, float64(maxJobs)))}
	scaleTo := out.ScaleTo
	var effMax int64
	if in.Running < minJobs {
		scaleTo, effMax = minJobs-in.Running, minJobs-in.Running
		out.Strategy = in.ScalingStrategy.StrategyOrDefault()
	} else {
		r := in.Running - minJobs
		s := in.ScalingStrategy
		out.Strategy = s.StrategyOrDefault()
		switch out.Strategy {
		case kedav1.ScalingStrategyCustom:
			pct, err := strconv.ParseFloat(s.CustomScalingRunningJobPercentage, 64)
			if err != nil {
				out.Strategy = kedav1.ScalingStrategyDefault
				effMax = out.MaxScale - r
				break
			}
			var deduction int64
			if s.CustomScalingQueueLengthDeduction != nil {
				deduction = int64(*s.CustomScalingQueueLengthDeduction)
			}
			effMax = min(out.MaxScale-deduction-int64(float64(r)*pct), maxJobs)
		case kedav1.ScalingStrategyAccurate:
			if out.MaxScale+r-in.Pending > maxJobs {
				effMax = maxJobs - r
			} else {
				effMax = out.MaxScale - in.Pending
			}
		case kedav1.ScalingStrategyEager:
			effMax = min(maxJobs-r-in.Pending, out.MaxScale)
			scaleTo = maxJobs
		default:
			out.Strategy = kedav1.ScalingStrategyDefault
			effMax = out.MaxScale - r
		}
	}
	if active && effMax > 0 {
		out.Create = min(scaleTo, effMax)
	}
	return out
}

// combine applies step 1 and 2 of CountJobs: whether a combined trigger is
// active, the combined queue length and the combined (uncapped) Job count.
func combine(ts []JobTrigger, calc string, maxJobs int64) (active bool, queue, value float64) {
	n := 0
	for _, t := range ts {
		if !t.Known || t.Failing || !(t.Value > t.Activation) {
			continue
		}
		q, v := t.Value, 0.0
		if t.Target != 0 {
			v = min(q/t.Target, float64(maxJobs))
		}
		switch calc {
		case kedav1.MultipleScalersCalculationMin:
			if queue == 0 || q < queue {
				queue, value, active = q, v, true
			}
		case kedav1.MultipleScalersCalculationAvg, kedav1.MultipleScalersCalculationSum:
			queue, value, active = queue+q, value+v, true
			n++
		default: // max
			if q > queue {
				queue, value, active = q, v, true
			}
		}
	}
	if calc == kedav1.MultipleScalersCalculationAvg && n > 0 {
		queue, value = queue/float64(n), value/float64(n)
	}
	return active, queue, value
}

// jobMinReplicas is KEDA's ScaledJob.MinReplicaCount(): minReplicaCount
// (default 0), but never above a set maxReplicaCount.
func jobMinReplicas(minRC, maxRC *int32) int64 {
	if minRC == nil {
		return 0
	}
	if maxRC != nil && *minRC > *maxRC {
		return int64(*maxRC)
	}
	return int64(*minRC)
}

// jobMaxReplicas is KEDA's ScaledJob.MaxReplicaCount(), the number of Jobs
// allowed beyond minReplicaCount: maxReplicaCount - minReplicaCount when
// both are set and min ≤ max; maxReplicaCount when min > max; 100 when
// maxReplicaCount is unset, whatever minReplicaCount is.
func jobMaxReplicas(minRC, maxRC *int32) int64 {
	if maxRC == nil {
		return int64(kedav1.DefaultMaxReplicaCount)
	}
	if minRC != nil && *minRC > *maxRC {
		return int64(*maxRC)
	}
	return int64(*maxRC) - jobMinReplicas(minRC, maxRC)
}

func ceil(x float64) int64 { return int64(math.Ceil(x)) }
