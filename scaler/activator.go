package scaler

import (
	"github.com/pushscale/pushscale/scaler/kedametrics"

	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// decide makes the 0↔1 decision for one ScaledObject and executes it:
// at most one /scale write, then the status. It runs for every store change
// of the object (coalesced), after every reconcile, and on timers.
func (c *Controller) decide(ctx context.Context, key types.NamespacedName) error {
	t := c.target(key)
	if t == nil {
		return nil
	}
	defer c.forgetMetricsIfGone(key, t)
	t.mu.RLock()
	so, valid, ready, gvkr, ctl := t.so, t.valid, t.ready, t.gvkr, t.ctl
	triggers, resources, mods := t.triggers, t.resources, t.mods
	t.mu.RUnlock()

	status := so.Status.DeepCopy()
	if len(status.Conditions) == 0 {
		status.Conditions = kedav1.InitConditions()
	}
	status.Conditions.SetCondition(ready.Type, ready.Status, ready.Reason, ready.Message)
	c.declareKeda(so.Namespace, so.Name, kedametrics.ScaledObject, triggers, mods != nil && len(triggers) > 0)
	c.setPaused(so, status, ctl)
	if !valid {
		return c.writeStatus(ctx, t, so, status)
	}
	if ctl.paused {
		return c.decidePaused(ctx, t, so, gvkr, ctl, status)
	}
	status.PausedReplicaCount = nil

	entries := c.opts.Store.Owner(t.owner)
	now := c.clock.Now()
	in := Input{
		Now:             now,
		Created:         so.CreationTimestamp.Time,
		MinReplicas:     so.Spec.MinReplicaCountOrDefault(),
		IdleReplicas:    so.Spec.IdleReplicaCount,
		Cooldown:        so.Spec.CooldownPeriodOrDefault(),
		InitialCooldown: so.Spec.InitialCooldownPeriodOrDefault(),
		HasFallback:     so.Spec.Fallback != nil,
		ResourceOnly:    len(triggers) == 0 && len(resources) > 0,
		PauseScaleIn:    ctl.pauseScaleIn,
		PauseScaleOut:   ctl.pauseScaleOut,
		ForceActivation: ctl.forceActivation,
	}
	var newest time.Time // time of the newest value, for event→scale latency
	var source string
	for _, w := range triggers {
		e := entries[w.index]
		in.Triggers = append(in.Triggers, Trigger{Known: e.Known, Value: e.Value, Activation: w.spec.Activation, Failing: e.Failures > 0, Active: e.Active})
		if e.Known && e.ActiveOver(w.spec.Activation) && e.At.After(newest) {
			newest, source = e.At, w.typ
		}
		c.observe(t, so, w, e)
	}
	if mods != nil && len(triggers) > 0 {
		parts := make([]part, 0, len(triggers))
		for _, w := range triggers {
			parts = append(parts, part{name: w.name, metric: w.spec.MetricName, entry: entries[w.index]})
		}
		in.Composite = mods.activity(parts)
		c.observeComposite(so, in.Composite)
	}

	t.mu.RLock()
	in.LastActive, in.Current = t.lastActive, t.replicas
	wasActive, wasDecided, aside := t.wasActive, t.decided, t.hpaAside
	fresh := t.decided && now.Sub(t.replicasAt) < refreshEvery(so.Spec.PollingIntervalOrDefault(), t.wasActive && t.replicas > 0)
	stale := t.replicasStale
	t.mu.RUnlock()
	if wasActive {
		// It was active until this moment: cooldown counts from now.
		in.LastActive = now
	}

	var sc *autoscalingv1.Scale
	// From 0 an activation needs no read, however old the cached count:
	// its write fails unless the target is still at 0 (see setReplicas).
	if !fresh && (stale || !wasDecided || in.Current != 0 || !activates(in)) {
		var err error
		if sc, err = c.readScale(ctx, t, so, gvkr, status); err != nil {
			return err
		}
		in.Current = sc.Spec.Replicas
	}

	d := Decide(in)
	if d.SetAsideHPA && !aside {
		// Idle below min: the HPA goes before the target is scaled to idle.
		c.setAside(t, true)
		if err := c.syncHPA(ctx, t); err != nil {
			return fmt.Errorf("scaler: set the HPA aside: %w", err)
		}
	}
	replicas := in.Current
	toZero := false // this decision scaled the target to 0
	if d.Scale != nil && *d.Scale != in.Current {
		if err := c.scale(ctx, t, so, gvkr, sc, in, d, triggers, newest, source); err != nil {
			return err
		}
		replicas = *d.Scale
		toZero = replicas == 0
	}

	t.mu.Lock()
	t.lastActive, t.wasActive, t.decided = d.LastActive, d.Active, true
	t.replicas = replicas
	if sc != nil {
		t.replicasAt = now // a write keeps the read's age: the HPA may change it
		t.replicasStale = false
	}
	if toZero {
		// The verification below reads the count again.
		t.replicasAt, t.replicasStale = time.Time{}, true
	}
	writeLastActive := d.Active != wasActive || now.Sub(t.lastActiveAt) >= refreshEvery(so.Spec.PollingIntervalOrDefault(), true)
	t.mu.Unlock()
	if idle := so.Spec.IdleReplicaCount; aside && !d.SetAsideHPA || !wasDecided && idle != nil && *idle > 0 {
		// Out of idle (or the first decision of an object that can
		// idle): the HPA comes back.
		c.setAside(t, d.SetAsideHPA)
		if err := c.syncHPA(ctx, t); err != nil {
			return fmt.Errorf("scaler: restore the HPA: %w", err)
		}
	}

	c.setActivity(status, d)
	t.mu.RLock()
	prev := t.written
	t.mu.RUnlock()
	if prev == nil {
		prev = &so.Status
	}
	c.setPushHealth(so, prev, status, triggers, entries)
	before, _ := prev.Conditions.GetCondition(kedav1.ConditionFallback)
	if nowFallback := setHealth(so, status, triggers, entries); nowFallback != (before.Status == metav1.ConditionTrue) {
		switch {
		case nowFallback && mods != nil && so.Spec.Fallback.BehaviorOrDefault() == kedav1.FallbackBehaviorScalingModifiers:
			c.event(so, true, "ScaledObjectFallbackActivated", "Fallback activated: failing triggers enter the scalingModifiers formula as nil (%d replica(s) if it evaluates to nil)", so.Spec.Fallback.Replicas)
		case nowFallback:
			c.event(so, true, "ScaledObjectFallbackActivated", "Fallback activated: serving %d replica(s)' worth of each failing metric to the HPA", fallbackReplicas(so.Spec.Fallback, replicas))
		case before.Status == metav1.ConditionTrue:
			c.event(so, false, "ScaledObjectFallbackDeactivated", "Fallback deactivated: every metric reads again")
		}
	}
	if !d.LastActive.IsZero() && writeLastActive {
		status.LastActiveTime = &metav1.Time{Time: d.LastActive}
	}
	c.describe(t, so, gvkr, status)
	if wait := c.firstWriteWait(t, so, d, now); wait > 0 {
		// The first values are on their way: one status write with them
		// instead of one now and one when they come (the store's change
		// requeues the key sooner).
		c.decideQ.AddAfter(key, wait)
		return nil
	}
	if err := c.writeStatus(ctx, t, so, status); err != nil {
		return err
	}

	switch {
	case d.Recheck > 0:
		c.decideQ.AddAfter(key, d.Recheck)
	case d.Active || replicas > 0:
		c.decideQ.AddAfter(key, so.Spec.PollingIntervalOrDefault())
	case toZero:
		// An HPA whose own /scale write conflicted with ours re-reads the
		// Scale and writes its desired count again (kube-controller-
		// manager retries on conflict without deciding again), lifting the
		// target from 0 to minReplicas. Nothing else would decide this
		// object again while its triggers stay idle, so one more decision
		// reads the count shortly after.
		c.decideQ.AddAfter(key, min(zeroVerifyDelay, so.Spec.PollingIntervalOrDefault()))
	}
	return nil
}

// activeRefresh is the least time between two reads of an active
// target's replica count, and between two writes of lastActiveTime while
// its object stays active. Once a target is up, the HPA owns its count and
// the decision has nothing to do until the triggers go idle (a count
// changed meanwhile by someone else is found by the conditional scale
// write, which reads again), so reading and writing every pollingInterval
// would only spend the apiserver budget that wake-ups from 0 need: 100
// objects active at pollingInterval 1 s cost 200 requests/s that way, and
// 7 requests/s this way. lastActiveTime is still written on every
// active↔inactive transition, with the exact moment.
const activeRefresh = 30 * time.Second

// refreshEvery is how old a cached count (or the written lastActiveTime)
// may get: pollingInterval, or activeRefresh if longer while active.
func refreshEvery(pollingInterval time.Duration, active bool) time.Duration {
	if active {
		return max(pollingInterval, activeRefresh)
	}
	return pollingInterval
}

// zeroVerifyDelay is how long after scaling a target to 0 its count is read
// once more (see decide): longer than an HPA's retry after a conflict.
const zeroVerifyDelay = 2 * time.Second

// activates reports whether the decision for in scales the target up
// from 0.
func activates(in Input) bool {
	d := Decide(in)
	return in.Current == 0 && d.Scale != nil && *d.Scale > 0
}

// readScale reads the target's /scale and records status.originalReplicaCount
// the first time. A failure is written as Ready=False and returned.
func (c *Controller) readScale(ctx context.Context, t *target, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, status *kedav1.ScaledObjectStatus) (*autoscalingv1.Scale, error) {
	gr := schema.GroupResource{Group: gvkr.Group, Resource: gvkr.Resource}
	sc, err := c.scales.Scales(so.Namespace).Get(ctx, gr, so.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
	if err != nil {
		msg := fmt.Sprintf("cannot read the replicas of %s %s: %v", gvkr.Kind, so.Spec.ScaleTargetRef.Name, err)
		status.Conditions.SetCondition(kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed, msg)
		if werr := c.writeStatus(ctx, t, so, status); werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("scaler: %s", msg)
	}
	if status.OriginalReplicaCount == nil {
		status.OriginalReplicaCount = &sc.Spec.Replicas
	}
	return sc, nil
}

// scale executes a decision's /scale write, with its metrics, Event and
// log line.
func (c *Controller) scale(ctx context.Context, t *target, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, sc *autoscalingv1.Scale,
	in Input, d Decision, triggers []watched, newest time.Time, source string) error {
	from, to := in.Current, *d.Scale
	if err := c.setReplicas(ctx, so, gvkr, sc, from, to); err != nil {
		if errors.Is(err, errStaleReplicas) {
			// Someone else changed the replicas since they were read:
			// read again and decide again.
			t.mu.Lock()
			t.replicasAt, t.replicasStale = time.Time{}, true
			t.mu.Unlock()
			return err
		}
		if apierrors.IsConflict(err) {
			return fmt.Errorf("scaler: scale %s: %w", so.Spec.ScaleTargetRef.Name, err)
		}
		c.event(so, true, "KEDAScaleTargetActivationFailed", "Failed to scale %s %s/%s to %d: %v", gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, to, err)
		return fmt.Errorf("scaler: scale %s: %w", so.Spec.ScaleTargetRef.Name, err)
	}
	if to < from {
		c.opts.Metrics.ScaleActions.WithLabelValues(so.Namespace, so.Name, "down").Inc()
		c.event(so, false, "KEDAScaleTargetDeactivated", "Deactivated %s %s/%s from %d to %d",
			gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, from, to)
		c.log.Info("deactivated", "namespace", so.Namespace, "scaledObject", so.Name, "from", from, "to", to)
		return nil
	}
	c.opts.Metrics.ScaleActions.WithLabelValues(so.Namespace, so.Name, "up").Inc()
	if !newest.IsZero() {
		c.opts.Metrics.EventToScale.WithLabelValues(source).Observe(c.clock.Since(newest).Seconds())
	}
	if d.Forced {
		c.event(so, false, "KEDAScaleTargetActivated", "Scaled %s %s/%s from %d to %d, caused by forced activation annotation",
			gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, from, to)
	} else {
		by := activeMetrics(triggers, in.Triggers)
		if in.Composite != nil {
			by = kedav1.CompositeMetricName
		}
		c.event(so, false, "KEDAScaleTargetActivated", "Scaled %s %s/%s from %d to %d, triggered by %s",
			gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, from, to, by)
	}
	c.log.Info("activated", "namespace", so.Namespace, "scaledObject", so.Name, "from", from, "to", to, "forced", d.Forced)
	return nil
}

func (c *Controller) setAside(t *target, aside bool) {
	t.mu.Lock()
	t.hpaAside = aside
	t.mu.Unlock()
}

// errStaleReplicas means a conditional /scale write found other replicas
// than the cached count it was based on.
var errStaleReplicas = errors.New("scale target's replicas changed since they were read")

// setReplicas writes to on the target's /scale. With sc (just read) it is
// an Update guarded by sc's resourceVersion. Without it, from is the
// cached count and the write is one JSON patch that tests the Scale's
// spec before replacing the count, so it never overrides a change it has
// not seen: /spec/replicas == from, or, from 0, /spec == {} (a Scale at 0
// omits spec.replicas).
func (c *Controller) setReplicas(ctx context.Context, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, sc *autoscalingv1.Scale, from, to int32) error {
	name := so.Spec.ScaleTargetRef.Name
	if sc != nil {
		sc = sc.DeepCopy()
		sc.Spec.Replicas = to
		_, err := c.scales.Scales(so.Namespace).Update(ctx, schema.GroupResource{Group: gvkr.Group, Resource: gvkr.Resource}, sc, metav1.UpdateOptions{})
		return err
	}
	patch := replicasPatch(from, to)
	gvr := schema.GroupVersionResource{Group: gvkr.Group, Version: gvkr.Version, Resource: gvkr.Resource}
	_, err := c.scales.Scales(so.Namespace).Patch(ctx, gvr, name, types.JSONPatchType, patch, metav1.PatchOptions{})
	if patchNotApplied(err) || apierrors.IsConflict(err) {
		return fmt.Errorf("%w: %v", errStaleReplicas, err)
	}
	return err
}

// patchNotApplied reports whether err is the apiserver's answer to a JSON
// patch whose operations did not apply (its test failed): 422 Invalid
// naming no object, as the patch handler builds it. A validation error of
// the patched object also answers 422 Invalid, but names its kind: that one
// is a real failure, not a changed count.
func patchNotApplied(err error) bool {
	var api apierrors.APIStatus
	if !errors.As(err, &api) {
		return false
	}
	st := api.Status()
	return st.Code == http.StatusUnprocessableEntity && st.Reason == metav1.StatusReasonInvalid &&
		(st.Details == nil || st.Details.Kind == "" && st.Details.Name == "")
}

// replicasPatch is the JSON patch that sets a Scale's replicas from from
// to to, failing unless they are from.
func replicasPatch(from, to int32) []byte {
	if from == 0 {
		return fmt.Appendf(nil, `[{"op":"test","path":"/spec","value":{}},{"op":"add","path":"/spec/replicas","value":%d}]`, to)
	}
	return fmt.Appendf(nil, `[{"op":"test","path":"/spec/replicas","value":%d},{"op":"replace","path":"/spec/replicas","value":%d}]`, from, to)
}

// firstStatusGrace is how long a new ScaledObject's first status write may
// wait for its triggers' first values.
const firstStatusGrace = 2 * time.Second

// firstWriteWait returns how long the status write of this decision should
// wait (0: write now): only while a ScaledObject that has no status yet
// waits for its first values, for at most firstStatusGrace after the
// gateway first saw it, so a new object costs one status write, not two.
func (c *Controller) firstWriteWait(t *target, so *kedav1.ScaledObject, d Decision, now time.Time) time.Duration {
	if d.ActiveReason != kedav1.ReasonUnknownState || len(so.Status.Conditions) > 0 {
		return 0
	}
	t.mu.RLock()
	written, seen := t.written != nil, t.seenAt
	t.mu.RUnlock()
	if written {
		return 0
	}
	return max(seen.Add(firstStatusGrace).Sub(now), 0)
}
