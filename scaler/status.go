package scaler

import (
	"github.com/pushscale/pushscale/scaler/kedametrics"

	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
)

func (c *Controller) setActivity(status *kedav1.ScaledObjectStatus, d Decision) {
	conds := &status.Conditions
	switch {
	case d.Forced:
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionTrue, d.ActiveReason, "Scaling is performed because activation is being forced by annotation")
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
}

// setPaused sets the Paused condition (True while any of the four pause
// annotations is in effect) and keda_scaled_object_paused.
func (c *Controller) setPaused(so *kedav1.ScaledObject, status *kedav1.ScaledObjectStatus, ctl controls) {
	paused := 0.0
	if ctl.anyPause() {
		status.Conditions.SetCondition(kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledObjectPaused, "ScaledObject is paused")
		paused = 1
	} else if p, ok := status.Conditions.GetCondition(kedav1.ConditionPaused); !ok || p.Status == metav1.ConditionTrue || p.Reason == "" {
		status.Conditions.SetCondition(kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledObjectUnpaused, "pause annotation removed for ScaledObject")
	}
	c.opts.Metrics.Keda.RecordPaused(kedametrics.Object{Namespace: so.Namespace, Name: so.Name, Kind: kedametrics.ScaledObject}, paused == 1)
}

// describe sets the status fields that describe the object rather than
// its state: target kind, HPA name, metric names, trigger and
// authentication types.
func (c *Controller) describe(t *target, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, status *kedav1.ScaledObjectStatus) {
	t.mu.RLock()
	hpaName, triggers, resources, mods := t.hpaName, t.triggers, t.resources, t.mods
	t.mu.RUnlock()
	// The name of the HPA that exists, else the one the spec gives.
	status.HpaName = hpaName
	if hpaName == "" {
		status.HpaName = so.HPAName()
	}
	status.ScaleTargetKind = gvkr.Group + "/" + gvkr.Version + "." + gvkr.Kind
	if gvkr.Group == "" {
		status.ScaleTargetKind = gvkr.Version + "." + gvkr.Kind
	}
	status.ScaleTargetGVKR = &gvkr
	status.ExternalMetricNames = nil
	for _, w := range triggers {
		status.ExternalMetricNames = append(status.ExternalMetricNames, w.spec.MetricName)
	}
	status.ResourceMetricNames = resources
	// KEDA keeps the triggers' own names in externalMetricNames and names
	// the one metric the HPA asks for in compositeScalerName.
	status.CompositeScalerName = ""
	if mods != nil {
		status.CompositeScalerName = kedav1.CompositeMetricName
	}
	var types []string
	for _, tr := range so.Spec.Triggers {
		types = append(types, tr.Type)
	}
	status.TriggersTypes = strings.Join(types, ",")
	status.AuthenticationsTypes = authNames(so)
}

// setPushHealth sets PushHealthy from the triggers' push paths (see
// pushHealth) and records an Event on each transition.
func (c *Controller) setPushHealth(so *kedav1.ScaledObject, prev, status *kedav1.ScaledObjectStatus, ws []watched, entries map[int]store.Entry) {
	c.updatePushHealth(so, prev.Conditions, &status.Conditions, ws, entries)
}

// kindOf is the kind label of pushscale_push_health for obj.
func kindOf(obj runtime.Object) string {
	if _, ok := obj.(*kedav1.ScaledJob); ok {
		return "ScaledJob"
	}
	return "ScaledObject"
}

// updatePushHealth sets PushHealthy in conds (see pushHealth) and records
// an Event on obj when it differs from prev's.
func (c *Controller) updatePushHealth(obj runtime.Object, prev kedav1.Conditions, conds *kedav1.Conditions, ws []watched, entries map[int]store.Entry) {
	m, _ := obj.(metav1.Object)
	if m == nil {
		return
	}
	key := types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetName()}
	if len(ws) == 0 {
		c.opts.Metrics.PushHealth.forget(kindOf(obj), key)
		return
	}
	after := pushHealth(ws, entries)
	conds.SetCondition(after.Type, after.Status, after.Reason, after.Message)
	c.opts.Metrics.PushHealth.set(kindOf(obj), key, string(after.Status), after.Reason)
	before, _ := prev.GetCondition(kedav1.ConditionPushHealthy)
	if after.Status != metav1.ConditionUnknown && (before.Status != after.Status || before.Reason != after.Reason) {
		c.event(obj, after.Status != metav1.ConditionTrue, "PushHealthy"+string(after.Status), "%s: %s", after.Reason, after.Message)
	}
}

// pushHealth is the PushHealthy condition of triggers ws: True when every
// trigger's source pushes (Subscribed, or Tracking when one does through
// Redis client tracking), Unknown while one has not said yet, else False
// with the first unhealthy trigger's reason.
func pushHealth(ws []watched, entries map[int]store.Entry) kedav1.Condition {
	tracked := -1
	for i, w := range ws {
		p := entries[w.index].Push
		if p.Reason == "" {
			return kedav1.Condition{Type: kedav1.ConditionPushHealthy, Status: metav1.ConditionUnknown, Reason: "Connecting", Message: "Waiting for the triggers' sources to subscribe"}
		}
		if !p.Healthy {
			msg := fmt.Sprintf("trigger %d (%s) is polled every pollingInterval: %s", w.index, w.typ, p.Message)
			return kedav1.Condition{Type: kedav1.ConditionPushHealthy, Status: metav1.ConditionFalse, Reason: p.Reason, Message: msg}
		}
		if p.Reason == kedav1.ReasonTracking && tracked < 0 {
			tracked = i
		}
	}
	if tracked >= 0 {
		w := ws[tracked]
		msg := fmt.Sprintf("Every trigger's source pushes changes; trigger %d (%s) through %s", w.index, w.typ, entries[w.index].Push.Message)
		return kedav1.Condition{Type: kedav1.ConditionPushHealthy, Status: metav1.ConditionTrue, Reason: kedav1.ReasonTracking, Message: msg}
	}
	return kedav1.Condition{Type: kedav1.ConditionPushHealthy, Status: metav1.ConditionTrue, Reason: kedav1.ReasonSubscribed, Message: "Every trigger's source pushes changes"}
}

// writeStatus patches the status subresource when status differs from what
// was last written (or, before any write, from the object's).
func (c *Controller) writeStatus(ctx context.Context, t *target, so *kedav1.ScaledObject, status *kedav1.ScaledObjectStatus) error {
	t.mu.RLock()
	prev := t.written
	t.mu.RUnlock()
	if prev == nil {
		prev = &so.Status
	}
	written, err := c.patchStatus(ctx, "scaledobjects", so.Namespace, so.Name, prev, status)
	if err != nil || !written {
		return err
	}
	t.mu.Lock()
	t.written = status
	if timeChanged(prev.LastActiveTime, status.LastActiveTime) {
		t.lastActiveAt = c.clock.Now()
	}
	t.mu.Unlock()
	return nil
}

// patchStatus patches the status subresource of the keda.sh resource's
// object namespace/name from prev to next (a merge patch of the
// difference), unless they are equal. It reports whether it wrote; an
// object gone is no error.
func (c *Controller) patchStatus(ctx context.Context, resource, namespace, name string, prev, next any) (bool, error) {
	if apiequality.Semantic.DeepEqual(prev, next) {
		return false, nil
	}
	nm, err := toJSONMap(next)
	if err != nil {
		return false, err
	}
	old, err := toJSONMap(prev)
	if err != nil {
		return false, err
	}
	body, err := json.Marshal(map[string]any{"status": mergePatch(old, nm)})
	if err != nil {
		return false, err
	}
	err = c.keda.Patch(types.MergePatchType).Namespace(namespace).Resource(resource).
		Name(name).SubResource("status").Body(body).Do(ctx).Error()
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("scaler: write status: %w", err)
	}
	c.opts.Metrics.StatusWrites.Inc()
	if c.log.Enabled(ctx, slog.LevelDebug) {
		c.log.Debug("status written", "namespace", namespace, "resource", resource, "name", name, "status", string(body))
	}
	return true, nil
}

// timeChanged reports whether next is set and differs from prev.
func timeChanged(prev, next *metav1.Time) bool {
	return next != nil && (prev == nil || !next.Equal(prev))
}

// toJSONMap returns v as a JSON object.
func toJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	m := map[string]any{}
	return m, json.Unmarshal(b, &m)
}

// mergePatch returns a JSON merge patch (RFC 7386) that turns prev into
// next: next, with null for every key of prev that next lacks, in nested
// objects too (a field cleared, e.g. pausedReplicaCount, or a health entry
// of a removed trigger, is removed on the server).
func mergePatch(prev, next map[string]any) map[string]any {
	out := make(map[string]any, len(next))
	for k, v := range next {
		pm, ok1 := prev[k].(map[string]any)
		nm, ok2 := v.(map[string]any)
		if ok1 && ok2 {
			out[k] = mergePatch(pm, nm)
			continue
		}
		out[k] = v
	}
	for k := range prev {
		if _, ok := next[k]; !ok {
			out[k] = nil
		}
	}
	return out
}

// observe exports a trigger's value, activity and failed reads to
// Prometheus.
func (c *Controller) observe(t *target, so *kedav1.ScaledObject, w watched, e store.Entry) {
	t.mu.Lock()
	if t.failedReads == nil {
		t.failedReads = map[int]uint64{}
	}
	t.mu.Unlock()
	c.observeTrigger(so.Namespace, so.Name, kedametrics.ScaledObject, t.failedReads, w, e)
}

// declareKeda states the object's triggers (and the composite metric when
// scaling modifiers are set) to KEDA's metric set, which deletes the series
// of triggers that went away.
func (c *Controller) declareKeda(namespace, name string, kind kedametrics.Kind, ws []watched, composite bool) {
	ts := make([]kedametrics.Trigger, 0, len(ws)+1)
	for _, w := range ws {
		ts = append(ts, kedaTrigger(w))
	}
	if composite {
		ts = append(ts, compositeTrigger)
	}
	c.opts.Metrics.Keda.Declare(kedametrics.Object{Namespace: namespace, Name: name, Kind: kind}, ts)
}

// compositeTrigger is KEDA's labels of the composite metric: scaler and
// metric composite-metric, index 0.
var compositeTrigger = kedametrics.Trigger{Scaler: kedav1.CompositeMetricName, Index: 0, Metric: kedav1.CompositeMetricName, Pseudo: true}

func kedaTrigger(w watched) kedametrics.Trigger {
	return kedametrics.Trigger{Scaler: w.typ, Index: w.index, Metric: w.spec.MetricName}
}

// observeTrigger exports trigger w of object namespace/name (of KEDA's
// type label typ: scaledobject or scaledjob) to Prometheus: its value,
// activity and the failed reads since failedReads (its FailedReads as
// last exported, updated here). failedReads belongs to the object's
// decision, which runs for one key at a time (the workqueue's rule).
func (c *Controller) observeTrigger(namespace, name string, kind kedametrics.Kind, failedReads map[int]uint64, w watched, e store.Entry) {
	o, kt := kedametrics.Object{Namespace: namespace, Name: name, Kind: kind}, kedaTrigger(w)
	seen := failedReads[w.index]
	failedReads[w.index] = e.FailedReads
	if e.FailedReads < seen { // the trigger was watched anew: a new count
		seen = 0
	}
	c.opts.Metrics.Keda.RecordErrors(o, kt, e.FailedReads-seen)
	trigger := w.name
	if trigger == "" {
		trigger = w.typ
	}
	if e.Known {
		if kind == kedametrics.ScaledObject { // pushscale_metric_value is what the HPA is served
			c.opts.Metrics.MetricValue.WithLabelValues(namespace, name, trigger, w.spec.MetricName).Set(e.Value)
		}
		c.opts.Metrics.Keda.RecordValue(o, kt, e.Value)
	}
	c.opts.Metrics.Keda.RecordActive(o, kt, e.Known && e.Failures == 0 && e.ActiveOver(w.spec.Activation))
}

// observeComposite exports the composite metric's value and activity under
// KEDA's labels for it: scaler and metric composite-metric, index 0.
func (c *Controller) observeComposite(so *kedav1.ScaledObject, comp *Composite) {
	o := kedametrics.Object{Namespace: so.Namespace, Name: so.Name, Kind: kedametrics.ScaledObject}
	if comp.Known {
		c.opts.Metrics.Keda.RecordValue(o, compositeTrigger, comp.Value)
	}
	c.opts.Metrics.Keda.RecordActive(o, compositeTrigger, comp.Known && comp.Value > comp.Activation)
}

// activeMetrics names the active triggers' metrics, ";"-separated, for the
// activation Event.
func activeMetrics(ws []watched, ts []Trigger) string {
	var names []string
	for i, t := range ts {
		if t.Known && t.active() {
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
