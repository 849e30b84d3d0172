package scaler

import (
	"time"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// Trigger is what a decision knows of one trigger.
type Trigger struct {
	// Known is false until the trigger's first successful read.
	Known bool
	// Value is the last value read; meaningful only when Known.
	Value float64
	// Activation is the activation threshold: active when Value > Activation.
	Activation float64
	// Failing is true while the last read failed.
	Failing bool
}

// Input is everything a ScaledObject's 0↔1 decision depends on.
type Input struct {
	Now             time.Time
	Created         time.Time
	MinReplicas     int32
	IdleReplicas    *int32
	Cooldown        time.Duration
	InitialCooldown time.Duration
	// LastActive is status.lastActiveTime (zero when never active).
	LastActive time.Time
	// Current is the target's replica count (spec.replicas of /scale).
	Current     int32
	Triggers    []Trigger
	HasFallback bool
}

// Decision is the outcome of Decide. Executing it is the caller's job.
type Decision struct {
	// Scale, when set, is the replica count to write to /scale.
	Scale *int32
	// Active reports whether any trigger is active.
	Active bool
	// LastActive is the new lastActiveTime (equal to the input's when
	// unchanged).
	LastActive time.Time
	// ActiveReason and ReadyReason are KEDA's condition reasons; an empty
	// ReadyReason leaves Ready to the controller's own checks.
	ActiveReason string
	ReadyReason  string
	// Recheck, when positive, is when the decision must be made again even
	// if no value changes (the end of a cooldown).
	Recheck time.Duration
}

// Decide applies KEDA's ScaledObject rules (keda.md 1.7) to in. It is a
// pure function: the same input gives the same decision.
//
//   - Active when any known trigger's value exceeds its activation
//     threshold (strict >).
//   - Active and at 0 (or, with idleReplicaCount, below min): scale to
//     max(min, 1). Active: lastActiveTime = now, unless some trigger fails.
//   - Inactive with failing triggers: never scale to zero (with a fallback
//     the HPA applies it).
//   - Inactive with unknown triggers: wait; unknown is not zero.
//   - Inactive: scale to idle (or 0) once lastActiveTime + cooldownPeriod
//     has passed (creationTimestamp + initialCooldownPeriod when never
//     active); below min without idle: scale to min.
func Decide(in Input) Decision {
	d := Decision{LastActive: in.LastActive}
	failing, unknown := false, false
	for _, t := range in.Triggers {
		switch {
		case t.Failing:
			failing = true
		case !t.Known:
			unknown = true
		case t.Value > t.Activation:
			d.Active = true
		}
	}
	if d.Active {
		d.ActiveReason = kedav1.ReasonScalerActive
		if in.Current == 0 || in.IdleReplicas != nil && in.Current < in.MinReplicas {
			d.Scale = ptr(max(in.MinReplicas, 1))
			d.LastActive = in.Now
			return d
		}
		if failing {
			d.ReadyReason = kedav1.ReasonPartialTriggerError
			return d
		}
		d.LastActive = in.Now
		return d
	}

	d.ActiveReason = kedav1.ReasonScalerNotActive
	switch {
	case failing && in.HasFallback:
		return d
	case failing:
		d.ReadyReason = kedav1.ReasonTriggerError
		return d
	case unknown:
		d.ActiveReason = kedav1.ReasonUnknownState
		return d
	}
	idle := in.IdleReplicas != nil
	if idle && in.Current > *in.IdleReplicas || !idle && in.Current > 0 && in.MinReplicas == 0 {
		var until time.Time
		if in.LastActive.IsZero() {
			until = in.Created.Add(in.InitialCooldown)
		} else {
			until = in.LastActive.Add(in.Cooldown)
		}
		if !in.Now.Before(until) {
			to := int32(0)
			if idle {
				to = *in.IdleReplicas
			}
			d.Scale = &to
			return d
		}
		d.ActiveReason = kedav1.ReasonScalerCooldown
		d.Recheck = until.Sub(in.Now)
		return d
	}
	if !idle && in.Current < in.MinReplicas {
		d.Scale = ptr(in.MinReplicas)
	}
	return d
}

func ptr(v int32) *int32 { return &v }
