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
	// Active is the activity the read decided when its source decides it
	// on more than the value (store.Entry.Active); nil: Value > Activation.
	Active *bool
}

// active reports whether a known trigger is active.
func (t Trigger) active() bool {
	if t.Active != nil {
		return *t.Active
	}
	return t.Value > t.Activation
}

// Composite is what a decision knows of the composite metric of
// advanced.scalingModifiers.
type Composite struct {
	// Known is false until every trigger has a value and the formula
	// evaluates.
	Known bool
	// Value is the formula's value; meaningful only when Known.
	Value float64
	// Activation is scalingModifiers.activationTarget: active when
	// Value > Activation.
	Activation float64
	// Err, when set, is why the formula cannot be evaluated although no
	// trigger fails: it counts as a failing trigger.
	Err string
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
	Current int32
	// Triggers are the external triggers; cpu and memory triggers are the
	// HPA's and never enter a decision.
	Triggers []Trigger
	// Composite is set when the object uses scalingModifiers: then it alone
	// decides the activity (the triggers' own activation thresholds are
	// ignored), and any failing trigger makes the object inactive, as KEDA
	// does.
	Composite   *Composite
	HasFallback bool
	// ResourceOnly is true when every trigger is cpu or memory: the object
	// is then always active (the HPA alone sizes it).
	ResourceOnly bool

	// Paused is autoscaling.keda.sh/paused (or paused-replicas): nothing
	// is decided but the paused replica count.
	Paused bool
	// PausedReplicas is autoscaling.keda.sh/paused-replicas, and
	// PausedApplied status.pausedReplicaCount: the count already applied,
	// so the target is scaled to a paused count once, not held there.
	PausedReplicas *int32
	PausedApplied  *int32
	// PauseScaleIn (paused-scale-in) forbids scaling to zero or idle;
	// PauseScaleOut (paused-scale-out) forbids the activation from zero or
	// idle.
	PauseScaleIn  bool
	PauseScaleOut bool
	// ForceActivation (force-activation) makes the object active whatever
	// its triggers say.
	ForceActivation bool
}

// Decision is the outcome of Decide. Executing it is the caller's job.
type Decision struct {
	// Scale, when set, is the replica count to write to /scale.
	Scale *int32
	// Active reports whether the object is active: some trigger is, every
	// trigger is cpu or memory, or activation is forced.
	Active bool
	// Forced is true when the object is active only because activation is
	// forced by annotation.
	Forced bool
	// Paused is true when the object is paused: only Scale (to the paused
	// replica count) is meaningful.
	Paused bool
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
	// SetAsideHPA is true while the target is held at a non-zero
	// idleReplicaCount (below minReplicaCount): the HPA must not exist
	// then, or it would lift the target to its minReplicas at once.
	SetAsideHPA bool
}

// Decide applies KEDA's ScaledObject rules (keda.md 1.3 and 1.7) to in. It
// is a pure function: the same input gives the same decision.
//
//   - Paused: scale to the paused replica count if it was not applied yet;
//     nothing else.
//   - Active when any known trigger's value exceeds its activation
//     threshold (strict >), when every trigger is cpu or memory, or when
//     activation is forced. With scalingModifiers: when the composite
//     value exceeds activationTarget (strict >) and no trigger fails.
//   - Active and at 0 (or, with idleReplicaCount, below min): scale to
//     max(min, 1), unless scale-out is paused. Active: lastActiveTime =
//     now, unless some trigger fails.
//   - Inactive with failing triggers: never scale to zero (with a fallback
//     the HPA applies it).
//   - Inactive with unknown triggers: wait; unknown is not zero.
//   - Inactive: scale to idle (or 0) once lastActiveTime + cooldownPeriod
//     has passed (creationTimestamp + initialCooldownPeriod when never
//     active), unless scale-in is paused; below min without idle: scale
//     to min.
func Decide(in Input) Decision {
	if in.Paused || in.PausedReplicas != nil {
		d := Decision{Paused: true, LastActive: in.LastActive}
		if p := in.PausedReplicas; p != nil && (in.PausedApplied == nil || *in.PausedApplied != *p) && in.Current != *p {
			d.Scale = ptr(*p)
		}
		return d
	}
	d, failing := decide(in)
	final := in.Current
	if d.Scale != nil {
		final = *d.Scale
	}
	// With a fallback and failing triggers the HPA serves the fallback: it
	// stays.
	d.SetAsideHPA = in.IdleReplicas != nil && *in.IdleReplicas > 0 && final == *in.IdleReplicas &&
		!d.Active && !(failing && in.HasFallback)
	return d
}

// decide is Decide for an object that is not paused; it also reports
// whether some trigger fails.
func decide(in Input) (Decision, bool) {
	d := Decision{LastActive: in.LastActive}
	failing, unknown, triggered := false, false, false
	for _, t := range in.Triggers {
		switch {
		case t.Failing:
			failing = true
		case !t.Known:
			unknown = true
		case t.active():
			triggered = true
		}
	}
	if c := in.Composite; c != nil {
		if c.Err != "" {
			failing = true
		}
		triggered = !failing && c.Known && c.Value > c.Activation
		unknown = !failing && !c.Known
	}
	d.Active = triggered || in.ResourceOnly || in.ForceActivation
	if d.Active {
		d.Forced = !triggered && !in.ResourceOnly
		d.ActiveReason = kedav1.ReasonScalerActive
		if in.Current == 0 || in.IdleReplicas != nil && in.Current < in.MinReplicas {
			if in.PauseScaleOut {
				return d, failing
			}
			d.Scale = ptr(max(in.MinReplicas, 1))
			d.LastActive = in.Now
			return d, failing
		}
		if failing {
			d.ReadyReason = kedav1.ReasonPartialTriggerError
			return d, failing
		}
		d.LastActive = in.Now
		return d, failing
	}

	d.ActiveReason = kedav1.ReasonScalerNotActive
	switch {
	case failing && in.HasFallback:
		return d, failing
	case failing:
		d.ReadyReason = kedav1.ReasonTriggerError
		return d, failing
	case unknown:
		d.ActiveReason = kedav1.ReasonUnknownState
		return d, failing
	}
	idle := in.IdleReplicas != nil
	if idle && in.Current > *in.IdleReplicas || !idle && in.Current > 0 && in.MinReplicas == 0 {
		if in.PauseScaleIn {
			return d, failing
		}
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
			return d, failing
		}
		d.ActiveReason = kedav1.ReasonScalerCooldown
		d.Recheck = until.Sub(in.Now)
		return d, failing
	}
	if !idle && in.Current < in.MinReplicas {
		d.Scale = ptr(in.MinReplicas)
	}
	return d, failing
}

func ptr(v int32) *int32 { return &v }
