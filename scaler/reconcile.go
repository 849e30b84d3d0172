package scaler

import (
	"github.com/pushscale/pushscale/scaler/kedametrics"

	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler/refcache"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// ReasonUnsupportedTrigger is the Ready reason for a ScaledObject with a
// trigger type pushscale does not implement yet.
const ReasonUnsupportedTrigger = "UnsupportedTrigger"

func (c *Controller) reconcile(ctx context.Context, key types.NamespacedName) error {
	obj, exists, err := c.soInformer.GetIndexer().GetByKey(key.String())
	if err != nil {
		return err
	}
	if !exists {
		return c.gone(ctx, key)
	}
	so := obj.(*kedav1.ScaledObject).DeepCopy()
	if so.DeletionTimestamp != nil {
		return c.finalize(ctx, key, so)
	}
	if err := c.ensureFinalizer(ctx, so); err != nil {
		return err
	}
	t := c.targetFor(key, so)

	// One ScaledObject per workload: a later one touches nothing.
	if by := c.holder(so); by.UID != so.UID {
		c.refs.Forget(refOwner(key))
		c.setTriggers(t, nil, "")
		t.mu.Lock()
		t.hpaWant, t.hpaKnown = nil, true
		t.mu.Unlock()
		c.invalid(key, t, heldMessage(so, by))
		return c.syncHPA(ctx, t) // an HPA it made while it held the target
	}

	// What check reads becomes what the object references: their changes
	// reconcile it again.
	rd := c.refs.Reader(refOwner(key))
	ready, ws, res, gvkr, err := c.check(ctx, rd, so, t.owner)
	rd.Close()
	if err != nil {
		return err
	}
	if ready.Status == metav1.ConditionFalse && ready.Reason == kedav1.ReasonScaledObjectCheckFailed {
		c.setTriggers(t, nil, "")
		c.invalid(key, t, ready.Message)
		return nil
	}
	ctl, err := parseControls(so.Annotations)
	if err != nil {
		c.setTriggers(t, nil, "")
		c.invalid(key, t, err.Error())
		return nil
	}
	name, orphans := c.foreignHPA(so)
	if name != "" {
		c.setTriggers(t, nil, "")
		c.invalid(key, t, fmt.Sprintf("workload '%s' of type '%s' is already managed by HPA '%s'", so.Spec.ScaleTargetRef.Name, gvkr.GVKString(), name))
		return nil
	}
	if err := c.deleteOrphans(ctx, orphans); err != nil {
		return err
	}
	fp := fingerprint(so, ws)
	msg, err := c.watchTriggers(so, t.fingerprint, fp, ws, func() error { return c.setTriggers(t, ws, fp) })
	if err != nil {
		c.invalid(key, t, err.Error())
		return nil
	}
	t.mu.Lock()
	t.refused = msg != ""
	t.mu.Unlock()
	if msg != "" {
		c.invalid(key, t, msg)
		return nil
	}
	named := map[string]bool{}
	for _, w := range ws {
		named[w.name] = true
	}
	mods, err := parseModifiers(so, named)
	if err != nil { // Validate compiled it already: not expected
		c.setTriggers(t, nil, "")
		c.invalid(key, t, err.Error())
		return nil
	}
	t.mu.Lock()
	t.mods = mods
	t.mu.Unlock()
	metrics := hpaMetrics(mods, ws)
	var want *autoscalingv2.HorizontalPodAutoscaler
	if !ctl.paused && len(metrics)+len(res) > 0 {
		want = buildHPA(so, gvkr, metrics, res, ctl)
	}
	t.mu.Lock()
	t.hpaWant, t.hpaKnown, t.hpaAdopt, t.hpaDefault = want, true, adopts(so, so.HPAName()), so.HPAName()
	t.mu.Unlock()
	// The HPA goes before the pause takes effect: a paused replica count
	// is written only once no HPA can undo it.
	if err := c.syncHPA(ctx, t); err != nil {
		c.invalid(key, t, err.Error())
		if errors.Is(err, errHPANotOwned) {
			return nil // until that HPA changes: its events requeue us
		}
		return err
	}
	var names []string
	for _, r := range res {
		names = append(names, resourceMetricName(r))
	}
	t.mu.Lock()
	before := t.ready
	t.valid, t.ready, t.gvkr, t.ctl, t.resources = true, ready, gvkr, ctl, names
	t.mu.Unlock()
	if before.Type == "" {
		before, _ = so.Status.Conditions.GetCondition(kedav1.ConditionReady)
	}
	if ready.Status == metav1.ConditionTrue && before.Status != metav1.ConditionTrue {
		// As KEDA: the first time, or after Unknown or False.
		c.event(so, false, kedav1.ReasonScaledObjectReady, "ScaledObject is ready for scaling")
	}
	c.decideQ.Add(key)
	return nil
}

// gone forgets a deleted ScaledObject, and deletes its HPA at once rather
// than leave it to the garbage collector: until then it would still scale
// the workload, which another ScaledObject may take over.
func (c *Controller) gone(ctx context.Context, key types.NamespacedName) error {
	c.mu.RLock()
	t := c.targets[key]
	c.mu.RUnlock()
	if t != nil && c.selector != nil {
		left, err := c.leftSelector(ctx, key)
		if err != nil {
			return err
		}
		if left {
			c.teardown(key)
			c.log.Info("ScaledObject left the watch label selector; its HPA and status are left to the autoscaler that selects it",
				"namespace", key.Namespace, "scaledObject", key.Name, "selector", c.selector.String())
			return nil
		}
	}
	c.teardown(key)
	if t == nil || !c.leading() {
		return nil // a standby's: the garbage collector deletes the HPA
	}
	t.mu.RLock()
	names, uid := []string{t.hpaName, t.hpaDefault}, string(t.owner.UID)
	t.mu.RUnlock()
	for _, n := range names {
		if n == "" {
			continue
		}
		if err := c.deleteOwnedHPA(ctx, key.Namespace, n, uid); err != nil {
			return err
		}
	}
	return nil
}

// leftSelector reports whether ScaledObject key, gone from the informer,
// still exists: its labels no longer match the watch label selector.
func (c *Controller) leftSelector(ctx context.Context, key types.NamespacedName) (bool, error) {
	var so kedav1.ScaledObject
	err := c.keda.Get().Namespace(key.Namespace).Resource("scaledobjects").Name(key.Name).Do(ctx).Into(&so)
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("scaler: get ScaledObject %s: %w", key, err)
	}
	return !c.selector.Matches(labels.Set(so.Labels)), nil
}

// invalid records that the object cannot be scaled, for the reason msg
// (Ready=False ScaledObjectCheckFailed, with an Event when the reason is
// new), and has the decision write it.
func (c *Controller) invalid(key types.NamespacedName, t *target, msg string) {
	ready := kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionFalse, Reason: kedav1.ReasonScaledObjectCheckFailed, Message: msg}
	t.mu.Lock()
	changed := t.ready != ready
	t.valid, t.ready, t.mods = false, ready, nil
	so := t.so
	t.mu.Unlock()
	if changed {
		c.event(so, true, kedav1.ReasonScaledObjectCheckFailed, "%s", msg)
	}
	c.decideQ.Add(key)
}

// check validates so and parses its triggers. A ScaledObjectCheckFailed
// condition means nothing can be scaled; an UnsupportedTrigger one that
// the supported triggers work. The error is for retryable failures only.
func (c *Controller) check(ctx context.Context, rd *refcache.Reader, so *kedav1.ScaledObject, owner store.Owner) (kedav1.Condition, []watched, []autoscalingv2.MetricSpec, kedav1.GroupVersionKindResource, error) {
	failed := func(msg string) (kedav1.Condition, []watched, []autoscalingv2.MetricSpec, kedav1.GroupVersionKindResource, error) {
		return kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionFalse,
			Reason: kedav1.ReasonScaledObjectCheckFailed, Message: msg}, nil, nil, kedav1.GroupVersionKindResource{}, nil
	}
	if err := so.Validate(); err != nil {
		return failed(err.Error())
	}
	gvkr, err := c.resolveTarget(so)
	if err != nil {
		return failed(err.Error())
	}
	template := c.podTemplate(ctx, so, gvkr) // read once, if a check needs it
	if err := c.checkResourceRequests(ctx, so, gvkr, template); err != nil {
		return failed(err.Error())
	}
	envs, defaultEnv, err := c.resolveEnv(ctx, rd, so.Namespace, so.Spec.Triggers, template, "spec.scaleTargetRef.envSourceContainerName", so.Spec.ScaleTargetRef.EnvSourceContainerName)
	if err != nil {
		return failed(err.Error())
	}
	var ws []watched
	var res []autoscalingv2.MetricSpec
	var problems, unsupported []string
	for i, tr := range so.Spec.Triggers {
		if isResourceTrigger(tr.Type) {
			m, err := resourceMetric(tr)
			if err != nil {
				problems = append(problems, fmt.Sprintf("trigger %d (%s): %v", i, tr.Type, err))
				continue
			}
			res = append(res, m)
			continue
		}
		w, err := c.watchedTrigger(ctx, rd, so, store.Key{Owner: owner, Trigger: i}, tr, so.Spec.PollingIntervalOrDefault(), envs, defaultEnv)
		if errors.Is(err, sources.ErrUnsupported) {
			unsupported = append(unsupported, tr.Type)
			continue
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("trigger %d (%s): %v", i, tr.Type, err))
			continue
		}
		ws = append(ws, w)
	}
	if len(problems) > 0 {
		return failed(strings.Join(problems, "; "))
	}
	if len(unsupported) > 0 {
		return kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonUnsupportedTrigger,
			Message: fmt.Sprintf("trigger type(s) not supported by pushscale: %s; the other triggers work", strings.Join(unsupported, ", "))}, ws, res, gvkr, nil
	}
	return kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionTrue, Reason: kedav1.ReasonScaledObjectReady,
		Message: "ScaledObject is defined correctly and is ready for scaling"}, ws, res, gvkr, nil
}

// triggerOwner is a ScaledObject or a ScaledJob: what triggers belong to.
type triggerOwner interface {
	metav1.Object
	runtime.Object
}

// watchedTrigger resolves trigger tr's authentication (envs and
// defaultEnv: see resolveEnv) and parses it for the sources, as key. An
// error wrapping sources.ErrUnsupported means no source serves its type.
func (c *Controller) watchedTrigger(ctx context.Context, rd *refcache.Reader, obj triggerOwner, key store.Key, tr kedav1.ScaleTrigger, poll time.Duration,
	envs map[string]map[string]string, defaultEnv map[string]string) (watched, error) {
	auth, err := c.resolveAuth(ctx, rd, obj.GetNamespace(), tr.AuthenticationRef, envs, defaultEnv)
	if err != nil {
		return watched{}, err
	}
	st := sources.Trigger{
		Key: key, Type: tr.Type, Name: tr.Name,
		Metadata: tr.Metadata, AuthParams: auth, ResolvedEnv: defaultEnv, PollingInterval: poll,
		ClusterAuth: c.clusterAuth(obj, tr.AuthenticationRef),
	}
	spec, err := c.opts.Sources.Parse(st)
	if err != nil {
		return watched{}, err
	}
	return watched{index: key.Trigger, typ: tr.Type, name: tr.Name, spec: spec, metricType: tr.MetricTypeOrDefault(), trigger: st}, nil
}

// resolveTarget maps scaleTargetRef to a resource with a /scale subresource.
func (c *Controller) resolveTarget(so *kedav1.ScaledObject) (kedav1.GroupVersionKindResource, error) {
	ref := so.Spec.ScaleTargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersionOrDefault())
	if err != nil {
		return kedav1.GroupVersionKindResource{}, fmt.Errorf("spec.scaleTargetRef.apiVersion %q: %v", ref.APIVersion, err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.KindOrDefault()}
	m, err := c.mapper.RESTMapping(gk, gv.Version)
	if err != nil {
		c.mapper.Reset()
		if m, err = c.mapper.RESTMapping(gk, gv.Version); err != nil {
			return kedav1.GroupVersionKindResource{}, fmt.Errorf("spec.scaleTargetRef: kind %s in %s is not served by the cluster", gk.Kind, gv)
		}
	}
	return kedav1.GroupVersionKindResource{Group: gv.Group, Version: gv.Version, Kind: gk.Kind, Resource: m.Resource.Resource}, nil
}

// setTriggers replaces t's watched triggers with ws (see rewatch). ws
// nil (the object is failing), or a failed Watch, also marks t invalid in
// the same step, so no decision scales it meanwhile.
func (c *Controller) setTriggers(t *target, ws []watched, fp string) error {
	t.mu.RLock()
	old := t.triggers
	t.mu.RUnlock()
	return c.rewatch(old, ws, func(now []watched) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.triggers, t.fingerprint = now, fp
		if now == nil {
			t.fingerprint, t.valid = "", false
		}
	})
}

// rewatch replaces the watched triggers old with ws, touching only what
// changed: an unchanged trigger stays watched as it is, a changed one is
// watched again in place (a source's Watch of a watched key replaces the
// trigger and carries over what it can: a webhook stream's level and
// arrivals, a shared broker connection), a removed one is unwatched and
// its value dropped. swap is called once: with ws when every Watch
// succeeded, before the triggers ws lacks are let go; with nil after a
// Watch failed, before every trigger is unwatched. The owner's set changes
// in that one step, so a concurrent decision sees the old set or the new
// one, never none.
func (c *Controller) rewatch(old, ws []watched, swap func([]watched)) error {
	was := map[int]watched{}
	for _, w := range old {
		was[w.index] = w
	}
	keep := map[int]bool{}
	for _, w := range ws {
		keep[w.index] = true
		o, had := was[w.index]
		if had && o.typ == w.typ && triggerFingerprint(o) == triggerFingerprint(w) {
			continue
		}
		if had && o.typ != w.typ {
			c.opts.Sources.Unwatch(o.typ, o.trigger.Key) // another source: it cannot replace it
		}
		if err := c.opts.Sources.Watch(w.trigger); err != nil {
			swap(nil)
			for _, u := range ws {
				c.opts.Sources.Unwatch(u.typ, u.trigger.Key)
			}
			for _, o := range old {
				if !keep[o.index] {
					c.opts.Sources.Unwatch(o.typ, o.trigger.Key)
				}
			}
			return fmt.Errorf("trigger %d (%s): %w", w.index, w.typ, err)
		}
	}
	swap(ws)
	for _, o := range old {
		if !keep[o.index] {
			c.opts.Sources.Unwatch(o.typ, o.trigger.Key)
			c.opts.Store.Remove(o.trigger.Key)
		}
	}
	return nil
}

// watchTriggers hands triggers ws to the sources with set when their
// fingerprint fp differs from cur, the one they were given last (the
// first time, it records KEDAScalersStarted on obj), and returns why the
// sources refuse any of them ("": none), or set's error. A trigger
// refused because of another one (webhook triggers sharing a stream with
// different authentication) stays watched, so that the others stay
// refused too; the source rechecks the owner when that changes.
func (c *Controller) watchTriggers(obj runtime.Object, cur, fp string, ws []watched, set func() error) (string, error) {
	if fp != cur {
		if err := set(); err != nil {
			return "", err
		}
		if cur == "" {
			c.event(obj, false, "KEDAScalersStarted", "Started scalers watch")
		}
	}
	return c.refused(ws), nil
}

// refused asks the sources whether they refuse any of ws (see
// sources.Checker) and returns why, or "".
func (c *Controller) refused(ws []watched) string {
	var problems []string
	for _, w := range ws {
		if err := c.opts.Sources.Check(w.typ, w.trigger.Key); err != nil {
			problems = append(problems, fmt.Sprintf("trigger %d (%s): %v", w.index, w.typ, err))
		}
	}
	return strings.Join(problems, "; ")
}

// teardown forgets the ScaledObject key: its triggers are unwatched and its
// values dropped. Its HPA is deleted by the garbage collector with it.
func (c *Controller) teardown(key types.NamespacedName) {
	c.refs.Forget(refOwner(key))
	c.mu.Lock()
	t := c.targets[key]
	delete(c.targets, key)
	c.opts.Metrics.ScaledObjects.Set(float64(len(c.targets)))
	c.mu.Unlock()
	if t == nil {
		return
	}
	t.mu.RLock()
	triggers := t.triggers
	t.mu.RUnlock()
	c.forgetTriggers(t.owner, triggers)
	labels := map[string]string{"namespace": key.Namespace, "scaledObject": key.Name}
	c.opts.Metrics.MetricValue.DeletePartialMatch(labels)
	c.opts.Metrics.ScaleActions.DeletePartialMatch(labels)
	c.opts.Metrics.Keda.Forget(kedametrics.Object{Namespace: key.Namespace, Name: key.Name, Kind: kedametrics.ScaledObject})
	c.opts.Metrics.PushHealth.forget("ScaledObject", key)
}

// forgetMetricsIfGone runs at the end of a decision of t: when t was torn
// down meanwhile (teardown runs on the reconcile queue, beside the
// decision), the series the decision may have made after teardown deleted
// them are deleted again.
func (c *Controller) forgetMetricsIfGone(key types.NamespacedName, t *target) {
	if c.target(key) == t {
		return
	}
	c.opts.Metrics.Keda.Forget(kedametrics.Object{Namespace: key.Namespace, Name: key.Name, Kind: kedametrics.ScaledObject})
	c.opts.Metrics.PushHealth.forget("ScaledObject", key)
}

// forgetTriggers unwatches owner's triggers ws and drops every value of
// owner from the store.
func (c *Controller) forgetTriggers(owner store.Owner, ws []watched) {
	for _, w := range ws {
		c.opts.Sources.Unwatch(w.typ, store.Key{Owner: owner, Trigger: w.index})
	}
	c.opts.Store.Forget(owner)
}

// fingerprint identifies what the sources were given, so an unchanged
// object is not re-watched. Auth parameters enter only as a hash.
func fingerprint(so *kedav1.ScaledObject, ws []watched) string {
	return triggersFingerprint(so.UID, ws)
}

// triggersFingerprint is fingerprint for any owner: its UID and watched
// triggers (each with its polling interval).
func triggersFingerprint(uid types.UID, ws []watched) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|", uid)
	for _, w := range ws {
		h.Write([]byte(triggerFingerprint(w)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// triggerFingerprint identifies what one trigger's source was given.
func triggerFingerprint(w watched) string {
	h := sha256.New()
	fmt.Fprintf(h, "%d|%s|%s|%d|", w.index, w.typ, w.name, w.trigger.PollingInterval)
	for _, m := range []map[string]string{w.trigger.Metadata, w.trigger.AuthParams, w.trigger.ResolvedEnv} {
		// encoding/json writes map keys sorted.
		b, _ := json.Marshal(m)
		h.Write(b)
		h.Write([]byte{'|'})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// event records a Kubernetes Event on obj (a ScaledObject or ScaledJob).
func (c *Controller) event(obj runtime.Object, warning bool, reason, format string, args ...any) {
	typ := corev1.EventTypeNormal
	if warning {
		typ = corev1.EventTypeWarning
	}
	c.recorder.Eventf(obj, typ, reason, format, args...)
}
