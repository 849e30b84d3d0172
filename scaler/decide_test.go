package scaler

import (
	"testing"
	"time"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	idle := func(v int32) *int32 { return &v }
	known := func(v float64) Trigger { return Trigger{Known: true, Value: v} }
	base := func(mod func(*Input)) Input {
		in := Input{Now: t0, Created: t0.Add(-time.Hour), Cooldown: 300 * time.Second, Triggers: []Trigger{known(0)}}
		mod(&in)
		return in
	}
	cases := []struct {
		name       string
		in         Input
		scale      *int32
		active     bool
		lastActive time.Time
		activeWhy  string
		readyWhy   string
		recheck    time.Duration
		forced     bool
		paused     bool
		aside      bool
	}{
		{name: "value above 0 at 0 replicas activates to 1",
			in: base(func(in *Input) { in.Triggers = []Trigger{known(1)} }), scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "activation threshold is strict",
			in: base(func(in *Input) { in.Triggers = []Trigger{{Known: true, Value: 5, Activation: 5}} }), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "an activity decided by the read wins over the value (active at 0)",
			in: base(func(in *Input) { in.Triggers = []Trigger{{Known: true, Value: 0, Active: ptrBool(true)}} }), scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "an activity decided by the read wins over the value (inactive above the threshold)",
			in: base(func(in *Input) { in.Triggers = []Trigger{{Known: true, Value: 9, Active: ptrBool(false)}} }), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "activation goes to minReplicaCount when above 1",
			in: base(func(in *Input) { in.MinReplicas = 3; in.Triggers = []Trigger{known(1)} }), scale: ptr(3), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "any trigger active suffices",
			in: base(func(in *Input) { in.Triggers = []Trigger{known(0), known(2)} }), scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "active and scaled up refreshes lastActiveTime only",
			in: base(func(in *Input) { in.Current = 4; in.Triggers = []Trigger{known(9)} }), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "active with a failing trigger does not refresh lastActiveTime",
			in: base(func(in *Input) {
				in.Current = 2
				in.LastActive = t0.Add(-time.Minute)
				in.Triggers = []Trigger{known(9), {Failing: true}}
			}), active: true, lastActive: t0.Add(-time.Minute), activeWhy: kedav1.ReasonScalerActive, readyWhy: kedav1.ReasonPartialTriggerError},
		{name: "idle mode below min activates",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current = 2, idle(0), 0
				in.Triggers = []Trigger{known(1)}
			}), scale: ptr(2), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "inactive within cooldown waits and rechecks at its end",
			in:         base(func(in *Input) { in.Current = 2; in.LastActive = t0.Add(-100 * time.Second) }),
			lastActive: t0.Add(-100 * time.Second), activeWhy: kedav1.ReasonScalerCooldown, recheck: 200 * time.Second},
		{name: "inactive after cooldown scales to zero",
			in:    base(func(in *Input) { in.Current = 2; in.LastActive = t0.Add(-300 * time.Second) }),
			scale: ptr(0), lastActive: t0.Add(-300 * time.Second), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "never active and no initial cooldown scales to zero at once",
			in: base(func(in *Input) { in.Current = 1 }), scale: ptr(0), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "initial cooldown counts from creation",
			in: base(func(in *Input) {
				in.Current = 1
				in.Created = t0.Add(-10 * time.Second)
				in.InitialCooldown = time.Minute
			}),
			activeWhy: kedav1.ReasonScalerCooldown, recheck: 50 * time.Second},
		{name: "failing trigger never scales to zero",
			in: base(func(in *Input) {
				in.Current = 2
				in.LastActive = t0.Add(-time.Hour)
				in.Triggers = []Trigger{{Failing: true}}
			}),
			lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive, readyWhy: kedav1.ReasonTriggerError},
		{name: "failing trigger with fallback leaves it to the HPA",
			in: base(func(in *Input) {
				in.Current = 2
				in.HasFallback = true
				in.LastActive = t0.Add(-time.Hour)
				in.Triggers = []Trigger{{Failing: true}}
			}), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "unknown value is not zero",
			in:         base(func(in *Input) { in.Current = 2; in.LastActive = t0.Add(-time.Hour); in.Triggers = []Trigger{{}} }),
			lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonUnknownState},
		{name: "idle replica count after cooldown",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current = 3, idle(1), 3
				in.LastActive = t0.Add(-time.Hour)
			}), scale: ptr(1), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive, aside: true},
		{name: "min above zero keeps replicas",
			in:         base(func(in *Input) { in.MinReplicas, in.Current = 2, 2; in.LastActive = t0.Add(-time.Hour) }),
			lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "below min without idle goes to min",
			in: base(func(in *Input) { in.MinReplicas, in.Current = 2, 0 }), scale: ptr(2), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "inactive at zero does nothing",
			in: base(func(in *Input) {}), activeWhy: kedav1.ReasonScalerNotActive},

		// Pause annotations (keda.md 1.3).
		{name: "paused does nothing, whatever the triggers say",
			in: base(func(in *Input) {
				in.Paused = true
				in.Triggers = []Trigger{known(9)}
			}), paused: true},
		{name: "paused keeps lastActiveTime",
			in:         base(func(in *Input) { in.Paused, in.Current, in.LastActive = true, 3, t0.Add(-time.Hour) }),
			lastActive: t0.Add(-time.Hour), paused: true},
		{name: "paused replicas scale the target once",
			in: base(func(in *Input) { in.PausedReplicas, in.Current = ptr(3), 1 }), scale: ptr(3), paused: true},
		{name: "paused replicas already applied are not enforced again",
			in: base(func(in *Input) { in.PausedReplicas, in.PausedApplied, in.Current = ptr(3), ptr(3), 5 }), paused: true},
		{name: "a changed paused replica count is applied",
			in: base(func(in *Input) { in.PausedReplicas, in.PausedApplied, in.Current = ptr(4), ptr(3), 3 }), scale: ptr(4), paused: true},
		{name: "paused replicas equal to the current count write nothing",
			in: base(func(in *Input) { in.PausedReplicas, in.Current = ptr(2), 2 }), paused: true},
		{name: "paused replicas of zero scale to zero",
			in: base(func(in *Input) { in.PausedReplicas, in.Current = ptr(0), 4; in.Triggers = []Trigger{known(9)} }), scale: ptr(0), paused: true},
		{name: "paused scale-in never scales to zero",
			in: base(func(in *Input) {
				in.PauseScaleIn = true
				in.Current, in.LastActive = 2, t0.Add(-time.Hour)
			}), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "paused scale-in never scales to idle",
			in: base(func(in *Input) {
				in.PauseScaleIn = true
				in.MinReplicas, in.IdleReplicas, in.Current, in.LastActive = 3, idle(1), 3, t0.Add(-time.Hour)
			}), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "paused scale-in still activates",
			in:    base(func(in *Input) { in.PauseScaleIn = true; in.Triggers = []Trigger{known(1)} }),
			scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "paused scale-out does not activate from zero",
			in: base(func(in *Input) {
				in.PauseScaleOut = true
				in.LastActive = t0.Add(-time.Hour)
				in.Triggers = []Trigger{known(1)}
			}), active: true, lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerActive},
		{name: "paused scale-out does not activate from idle",
			in: base(func(in *Input) {
				in.PauseScaleOut = true
				in.MinReplicas, in.IdleReplicas, in.Current = 3, idle(1), 1
				in.Triggers = []Trigger{known(1)}
			}), active: true, activeWhy: kedav1.ReasonScalerActive},
		{name: "paused scale-out still scales to zero after cooldown",
			in: base(func(in *Input) {
				in.PauseScaleOut = true
				in.Current, in.LastActive = 2, t0.Add(-time.Hour)
			}), scale: ptr(0), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},

		// force-activation.
		{name: "forced activation wakes an inactive object",
			in: base(func(in *Input) { in.ForceActivation = true }), scale: ptr(1), active: true, forced: true,
			lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "forced activation with unknown triggers",
			in:     base(func(in *Input) { in.ForceActivation = true; in.Current = 2; in.Triggers = []Trigger{{}} }),
			active: true, forced: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "forced activation is not reported as forced when a trigger is active",
			in:    base(func(in *Input) { in.ForceActivation = true; in.Triggers = []Trigger{known(1)} }),
			scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "forced activation never scales to zero",
			in:     base(func(in *Input) { in.ForceActivation = true; in.Current, in.LastActive = 2, t0.Add(-time.Hour) }),
			active: true, forced: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},

		// cpu and memory triggers.
		{name: "only cpu or memory triggers: always active",
			in:     base(func(in *Input) { in.ResourceOnly, in.MinReplicas, in.Current, in.Triggers = true, 1, 1, nil }),
			active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},

		// idleReplicaCount above zero: the HPA is set aside while idle.
		{name: "scaling to a non-zero idle count sets the HPA aside",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current = 3, idle(1), 3
				in.LastActive = t0.Add(-time.Hour)
			}), scale: ptr(1), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive, aside: true},
		{name: "held at a non-zero idle count keeps the HPA aside",
			in:        base(func(in *Input) { in.MinReplicas, in.IdleReplicas, in.Current = 3, idle(1), 1 }),
			activeWhy: kedav1.ReasonScalerNotActive, aside: true},
		{name: "at idle with unknown values keeps the HPA aside",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current, in.Triggers = 3, idle(1), 1, []Trigger{{}}
			}),
			activeWhy: kedav1.ReasonUnknownState, aside: true},
		{name: "activation from a non-zero idle count brings the HPA back",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current = 3, idle(1), 1
				in.Triggers = []Trigger{known(1)}
			}), scale: ptr(3), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "idle count zero keeps the HPA",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current = 3, idle(0), 3
				in.LastActive = t0.Add(-time.Hour)
			}), scale: ptr(0), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "at idle with a failing trigger and a fallback keeps the HPA for the fallback",
			in: base(func(in *Input) {
				in.MinReplicas, in.IdleReplicas, in.Current, in.HasFallback = 3, idle(1), 1, true
				in.Triggers = []Trigger{{Failing: true}}
			}), activeWhy: kedav1.ReasonScalerNotActive},
		// scalingModifiers: the composite value alone decides, strictly
		// above activationTarget; the triggers' own thresholds are ignored.
		{name: "composite above activationTarget activates",
			in: base(func(in *Input) {
				in.Triggers = []Trigger{known(2), known(2)}
				in.Composite = &Composite{Known: true, Value: 4, Activation: 3}
			}), scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "composite at activationTarget is not active (strict >)",
			in: base(func(in *Input) {
				in.Triggers = []Trigger{known(2), known(1)}
				in.Composite = &Composite{Known: true, Value: 3, Activation: 3}
			}), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "composite ignores an active trigger when the formula's value is low",
			in: base(func(in *Input) {
				in.Triggers = []Trigger{known(9), known(0)}
				in.Composite = &Composite{Known: true, Value: 0}
			}), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "composite activates although no trigger passes its own threshold",
			in: base(func(in *Input) {
				in.Triggers = []Trigger{{Known: true, Value: 1, Activation: 5}, {Known: true, Value: 1, Activation: 5}}
				in.Composite = &Composite{Known: true, Value: 2}
			}), scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "composite below activationTarget scales to zero after cooldown",
			in: base(func(in *Input) {
				in.Current, in.LastActive = 3, t0.Add(-time.Hour)
				in.Triggers = []Trigger{known(1), known(1)}
				in.Composite = &Composite{Known: true, Value: 2, Activation: 5}
			}), scale: ptr(0), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "composite with a failing trigger is inactive and never scales to zero",
			in: base(func(in *Input) {
				in.Current, in.LastActive = 3, t0.Add(-time.Hour)
				in.Triggers = []Trigger{known(50), {Failing: true}}
				in.Composite = &Composite{Activation: 0}
			}), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive, readyWhy: kedav1.ReasonTriggerError},
		{name: "composite with a failing trigger does not activate from zero",
			in: base(func(in *Input) {
				in.Triggers = []Trigger{known(50), {Failing: true}}
				in.Composite = &Composite{}
			}), activeWhy: kedav1.ReasonScalerNotActive, readyWhy: kedav1.ReasonTriggerError},
		{name: "composite with a failing trigger and a fallback leaves it to the HPA",
			in: base(func(in *Input) {
				in.Current, in.LastActive, in.HasFallback = 3, t0.Add(-time.Hour), true
				in.Triggers = []Trigger{known(1), {Failing: true}}
				in.Composite = &Composite{}
			}), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "composite with a trigger not read yet waits",
			in: base(func(in *Input) {
				in.Current = 2
				in.Triggers = []Trigger{known(1), {}}
				in.Composite = &Composite{}
			}), activeWhy: kedav1.ReasonUnknownState},
		{name: "composite whose formula fails counts as failing",
			in: base(func(in *Input) {
				in.Current, in.LastActive = 2, t0.Add(-time.Hour)
				in.Triggers = []Trigger{known(1)}
				in.Composite = &Composite{Err: "formula: invalid operation"}
			}), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive, readyWhy: kedav1.ReasonTriggerError},
		{name: "composite active and scaled up refreshes lastActiveTime",
			in: base(func(in *Input) {
				in.Current = 4
				in.Triggers = []Trigger{known(3)}
				in.Composite = &Composite{Known: true, Value: 3}
			}), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := Decide(tc.in)
			if (d.Scale == nil) != (tc.scale == nil) || d.Scale != nil && *d.Scale != *tc.scale {
				t.Errorf("Scale = %v, want %v", deref(d.Scale), deref(tc.scale))
			}
			if d.Active != tc.active {
				t.Errorf("Active = %v, want %v", d.Active, tc.active)
			}
			if !d.LastActive.Equal(tc.lastActive) {
				t.Errorf("LastActive = %v, want %v", d.LastActive, tc.lastActive)
			}
			if d.ActiveReason != tc.activeWhy || d.ReadyReason != tc.readyWhy {
				t.Errorf("reasons = %q/%q, want %q/%q", d.ActiveReason, d.ReadyReason, tc.activeWhy, tc.readyWhy)
			}
			if d.Recheck != tc.recheck {
				t.Errorf("Recheck = %v, want %v", d.Recheck, tc.recheck)
			}
			if d.Forced != tc.forced || d.Paused != tc.paused || d.SetAsideHPA != tc.aside {
				t.Errorf("Forced/Paused/SetAsideHPA = %v/%v/%v, want %v/%v/%v", d.Forced, d.Paused, d.SetAsideHPA, tc.forced, tc.paused, tc.aside)
			}
		})
	}
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}

func ptrBool(b bool) *bool { return &b }
