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
	}{
		{name: "value above 0 at 0 replicas activates to 1",
			in: base(func(in *Input) { in.Triggers = []Trigger{known(1)} }), scale: ptr(1), active: true, lastActive: t0, activeWhy: kedav1.ReasonScalerActive},
		{name: "activation threshold is strict",
			in: base(func(in *Input) { in.Triggers = []Trigger{{Known: true, Value: 5, Activation: 5}} }), activeWhy: kedav1.ReasonScalerNotActive},
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
			}), scale: ptr(1), lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "min above zero keeps replicas",
			in:         base(func(in *Input) { in.MinReplicas, in.Current = 2, 2; in.LastActive = t0.Add(-time.Hour) }),
			lastActive: t0.Add(-time.Hour), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "below min without idle goes to min",
			in: base(func(in *Input) { in.MinReplicas, in.Current = 2, 0 }), scale: ptr(2), activeWhy: kedav1.ReasonScalerNotActive},
		{name: "inactive at zero does nothing",
			in: base(func(in *Input) {}), activeWhy: kedav1.ReasonScalerNotActive},
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
		})
	}
}

func deref(p *int32) any {
	if p == nil {
		return nil
	}
	return *p
}
