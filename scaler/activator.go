package scaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway/store"
)

// decide makes the 0↔1 decision for one ScaledObject and executes it:
// at most one /scale write, then the status. It runs for every store change
// of the object (coalesced), after every reconcile, and on timers.
func (c *Controller) decide(ctx context.Context, key types.NamespacedName) error {
	c.mu.RLock()
	t := c.targets[key]
	if t == nil {
		c.mu.RUnlock()
		return nil
	}
	so, valid, ready, gvkr := t.so, t.valid, t.ready, t.gvkr
	triggers := t.triggers
	c.mu.RUnlock()

	status := so.Status.DeepCopy()
	if len(status.Conditions) == 0 {
		status.Conditions = kedav1.InitConditions()
	}
	status.Conditions.SetCondition(ready.Type, ready.Status, ready.Reason, ready.Message)
	if !valid {
		return c.writeStatus(ctx, t, so, status)
	}

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
	}
	var newest time.Time // time of the newest value, for event→scale latency
	var source string
	for _, w := range triggers {
		e := entries[w.index]
		in.Triggers = append(in.Triggers, Trigger{Known: e.Known, Value: e.Value, Activation: w.spec.Activation, Failing: e.Failures > 0})
		if e.Known && e.Value > w.spec.Activation && e.At.After(newest) {
			newest, source = e.At, w.typ
		}
		c.observe(so, w, e)
	}

	c.mu.RLock()
	in.LastActive, in.Current = t.lastActive, t.replicas
	wasActive, fresh := t.wasActive, t.decided && now.Sub(t.replicasAt) < so.Spec.PollingIntervalOrDefault()
	c.mu.RUnlock()
	if wasActive {
		// It was active until this moment: cooldown counts from now.
		in.LastActive = now
	}

	gr := schema.GroupResource{Group: gvkr.Group, Resource: gvkr.Resource}
	var sc *autoscalingv1.Scale
	if !fresh {
		var err error
		sc, err = c.scales.Scales(so.Namespace).Get(ctx, gr, so.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
		if err != nil {
			msg := fmt.Sprintf("cannot read the replicas of %s %s: %v", gvkr.Kind, so.Spec.ScaleTargetRef.Name, err)
			status.Conditions.SetCondition(kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed, msg)
			if werr := c.writeStatus(ctx, t, so, status); werr != nil {
				return werr
			}
			return fmt.Errorf("scaler: %s", msg)
		}
		in.Current = sc.Spec.Replicas
		if status.OriginalReplicaCount == nil {
			status.OriginalReplicaCount = &sc.Spec.Replicas
		}
	}

	d := Decide(in)
	replicas := in.Current
	if d.Scale != nil && *d.Scale != in.Current {
		from := in.Current
		if err := c.setReplicas(ctx, so, gvkr, sc, from, *d.Scale); err != nil {
			if errors.Is(err, errStaleReplicas) {
				// Someone else changed the replicas since they were read:
				// read again and decide again.
				c.mu.Lock()
				t.replicasAt = time.Time{}
				c.mu.Unlock()
				return err
			}
			if apierrors.IsConflict(err) {
				return fmt.Errorf("scaler: scale %s: %w", so.Spec.ScaleTargetRef.Name, err)
			}
			c.event(so, true, "KEDAScaleTargetActivationFailed", "Failed to scale %s %s/%s to %d: %v", gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, *d.Scale, err)
			return fmt.Errorf("scaler: scale %s: %w", so.Spec.ScaleTargetRef.Name, err)
		}
		replicas = *d.Scale
		if *d.Scale > from {
			c.opts.Metrics.ScaleActions.WithLabelValues(so.Namespace, so.Name, "up").Inc()
			if !newest.IsZero() {
				c.opts.Metrics.EventToScale.WithLabelValues(source).Observe(c.clock.Since(newest).Seconds())
			}
			c.event(so, false, "KEDAScaleTargetActivated", "Scaled %s %s/%s from %d to %d, triggered by %s",
				gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, from, *d.Scale, activeMetrics(triggers, in.Triggers))
			c.log.Info("activated", "namespace", so.Namespace, "scaledObject", so.Name, "from", from, "to", *d.Scale)
		} else {
			c.opts.Metrics.ScaleActions.WithLabelValues(so.Namespace, so.Name, "down").Inc()
			c.event(so, false, "KEDAScaleTargetDeactivated", "Deactivated %s %s/%s from %d to %d",
				gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, from, *d.Scale)
			c.log.Info("deactivated", "namespace", so.Namespace, "scaledObject", so.Name, "from", from, "to", *d.Scale)
		}
	}

	c.mu.Lock()
	t.lastActive, t.wasActive, t.decided = d.LastActive, d.Active, true
	t.replicas = replicas
	if sc != nil {
		t.replicasAt = now // a write keeps the read's age: the HPA may change it
	}
	writeLastActive := d.Active != wasActive || now.Sub(t.lastActiveAt) >= so.Spec.PollingIntervalOrDefault()
	c.mu.Unlock()

	c.setActivity(status, d)
	c.mu.RLock()
	prev := t.written
	c.mu.RUnlock()
	if prev == nil {
		prev = &so.Status
	}
	c.setPushHealth(so, prev, status, triggers, entries)
	before, _ := prev.Conditions.GetCondition(kedav1.ConditionFallback)
	if nowFallback := setHealth(so, status, triggers, entries); nowFallback != (before.Status == metav1.ConditionTrue) {
		if nowFallback {
			c.event(so, true, "ScaledObjectFallbackActivated", "Fallback activated: serving %d replica(s)' worth of each failing metric to the HPA", fallbackReplicas(so.Spec.Fallback, replicas))
		} else if before.Status == metav1.ConditionTrue {
			c.event(so, false, "ScaledObjectFallbackDeactivated", "Fallback deactivated: every metric reads again")
		}
	}
	if !d.LastActive.IsZero() && writeLastActive {
		status.LastActiveTime = &metav1.Time{Time: d.LastActive}
	}
	status.HpaName = so.HPAName()
	status.ScaleTargetKind = gvkr.Group + "/" + gvkr.Version + "." + gvkr.Kind
	if gvkr.Group == "" {
		status.ScaleTargetKind = gvkr.Version + "." + gvkr.Kind
	}
	status.ScaleTargetGVKR = &gvkr
	status.ExternalMetricNames = nil
	var types []string
	for _, w := range triggers {
		status.ExternalMetricNames = append(status.ExternalMetricNames, w.spec.MetricName)
	}
	for _, tr := range so.Spec.Triggers {
		types = append(types, tr.Type)
	}
	status.TriggersTypes = strings.Join(types, ",")
	status.AuthenticationsTypes = authNames(so)
	if err := c.writeStatus(ctx, t, so, status); err != nil {
		return err
	}

	switch {
	case d.Recheck > 0:
		c.decideQ.AddAfter(key, d.Recheck)
	case d.Active || replicas > 0:
		c.decideQ.AddAfter(key, so.Spec.PollingIntervalOrDefault())
	}
	return nil
}

// errStaleReplicas means a conditional /scale write found other replicas
// than the cached count it was based on.
var errStaleReplicas = errors.New("scale target's replicas changed since they were read")

// setReplicas writes to on the target's /scale. With sc (just read) it is
// an Update guarded by sc's resourceVersion. Without it, from is the
// cached count and the write is one JSON patch that tests
// /spec/replicas == from before replacing it: the activation costs a
// single request, and never overrides a change it has not seen.
func (c *Controller) setReplicas(ctx context.Context, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, sc *autoscalingv1.Scale, from, to int32) error {
	name := so.Spec.ScaleTargetRef.Name
	if sc != nil {
		sc = sc.DeepCopy()
		sc.Spec.Replicas = to
		_, err := c.scales.Scales(so.Namespace).Update(ctx, schema.GroupResource{Group: gvkr.Group, Resource: gvkr.Resource}, sc, metav1.UpdateOptions{})
		return err
	}
	patch := fmt.Appendf(nil, `[{"op":"test","path":"/spec/replicas","value":%d},{"op":"replace","path":"/spec/replicas","value":%d}]`, from, to)
	gvr := schema.GroupVersionResource{Group: gvkr.Group, Version: gvkr.Version, Resource: gvkr.Resource}
	_, err := c.scales.Scales(so.Namespace).Patch(ctx, gvr, name, types.JSONPatchType, patch, metav1.PatchOptions{})
	if apierrors.IsInvalid(err) || apierrors.IsConflict(err) || err != nil && strings.Contains(err.Error(), "test") {
		return fmt.Errorf("%w: %v", errStaleReplicas, err)
	}
	return err
}

func (c *Controller) setActivity(status *kedav1.ScaledObjectStatus, d Decision) {
	conds := &status.Conditions
	switch {
	case d.Active:
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionTrue, d.ActiveReason, "Scaling is performed because triggers are active")
	case d.ActiveReason == kedav1.ReasonUnknownState:
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionUnknown, d.ActiveReason, "Waiting for the first value of every trigger")
	case d.ActiveReason == kedav1.ReasonScalerCooldown:
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionFalse, d.ActiveReason, "Scaler cooling down because triggers are not active")
	default:
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionFalse, d.ActiveReason, "Scaling is not performed because triggers are not active")
	}
	switch d.ReadyReason {
	case kedav1.ReasonTriggerError:
		conds.SetCondition(kedav1.ConditionReady, metav1.ConditionFalse, d.ReadyReason, "Triggers defined in ScaledObject are not working correctly")
	case kedav1.ReasonPartialTriggerError:
		conds.SetCondition(kedav1.ConditionReady, metav1.ConditionUnknown, d.ReadyReason, "Some triggers defined in ScaledObject are not working correctly")
	}
	if c, ok := conds.GetCondition(kedav1.ConditionPaused); !ok || c.Reason == "" {
		conds.SetCondition(kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledObjectUnpaused, "pause annotation removed for ScaledObject")
	}
}

// setPushHealth sets PushHealthy from the triggers' push paths: True
// (Subscribed) when every trigger's source is subscribed, else False with
// the first unhealthy trigger's reason, and records an Event on each
// transition.
func (c *Controller) setPushHealth(so *kedav1.ScaledObject, prev, status *kedav1.ScaledObjectStatus, ws []watched, entries map[int]store.Entry) {
	if len(ws) == 0 {
		return
	}
	status.Conditions.SetCondition(kedav1.ConditionPushHealthy, metav1.ConditionTrue, kedav1.ReasonSubscribed, "Every trigger's source pushes changes")
	for _, w := range ws {
		p := entries[w.index].Push
		if p.Reason == "" {
			status.Conditions.SetCondition(kedav1.ConditionPushHealthy, metav1.ConditionUnknown, "Connecting", "Waiting for the triggers' sources to subscribe")
			break
		}
		if !p.Healthy {
			msg := fmt.Sprintf("trigger %d (%s) is polled every pollingInterval: %s", w.index, w.typ, p.Message)
			status.Conditions.SetCondition(kedav1.ConditionPushHealthy, metav1.ConditionFalse, p.Reason, msg)
			break
		}
	}
	before, _ := prev.Conditions.GetCondition(kedav1.ConditionPushHealthy)
	after, _ := status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
	if after.Status != metav1.ConditionUnknown && (before.Status != after.Status || before.Reason != after.Reason) {
		c.event(so, after.Status != metav1.ConditionTrue, "PushHealthy"+string(after.Status), "%s: %s", after.Reason, after.Message)
	}
}

// writeStatus patches the status subresource when status differs from what
// was last written (or, before any write, from the object's).
func (c *Controller) writeStatus(ctx context.Context, t *target, so *kedav1.ScaledObject, status *kedav1.ScaledObjectStatus) error {
	c.mu.RLock()
	prev := t.written
	c.mu.RUnlock()
	if prev == nil {
		prev = &so.Status
	}
	if apiequality.Semantic.DeepEqual(prev, status) {
		return nil
	}
	body, err := json.Marshal(map[string]any{"status": status})
	if err != nil {
		return err
	}
	err = c.keda.Patch(types.MergePatchType).Namespace(so.Namespace).Resource("scaledobjects").
		Name(so.Name).SubResource("status").Body(body).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scaler: write status: %w", err)
	}
	c.opts.Metrics.StatusWrites.Inc()
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("status written", "namespace", so.Namespace, "scaledObject", so.Name, "status", string(body))
	}
	c.mu.Lock()
	t.written = status
	if status.LastActiveTime != nil && (prev.LastActiveTime == nil || !status.LastActiveTime.Equal(prev.LastActiveTime)) {
		t.lastActiveAt = c.clock.Now()
	}
	c.mu.Unlock()
	return nil
}

// observe exports a trigger's value to Prometheus.
func (c *Controller) observe(so *kedav1.ScaledObject, w watched, e store.Entry) {
	idx := strconv.Itoa(w.index)
	name := w.name
	if name == "" {
		name = w.typ
	}
	if e.Known {
		c.opts.Metrics.MetricValue.WithLabelValues(so.Namespace, so.Name, name, w.spec.MetricName).Set(e.Value)
		c.opts.Metrics.KedaValue.WithLabelValues(so.Namespace, so.Name, w.typ, idx, w.spec.MetricName, "scaledobject").Set(e.Value)
	}
	active := 0.0
	if e.Known && e.Failures == 0 && e.Value > w.spec.Activation {
		active = 1
	}
	c.opts.Metrics.KedaActive.WithLabelValues(so.Namespace, so.Name, w.typ, idx, w.spec.MetricName, "scaledobject").Set(active)
}

func anyActive(ts []Trigger) bool {
	for _, t := range ts {
		if t.Known && !t.Failing && t.Value > t.Activation {
			return true
		}
	}
	return false
}

// activeMetrics names the active triggers' metrics, ";"-separated, for the
// activation Event.
func activeMetrics(ws []watched, ts []Trigger) string {
	var names []string
	for i, t := range ts {
		if t.Known && t.Value > t.Activation {
			names = append(names, ws[i].spec.MetricName)
		}
	}
	return strings.Join(names, ";")
}

func authNames(so *kedav1.ScaledObject) string {
	var names []string
	for _, tr := range so.Spec.Triggers {
		if tr.AuthenticationRef != nil {
			names = append(names, tr.AuthenticationRef.Name)
		}
	}
	return strings.Join(names, ",")
}
