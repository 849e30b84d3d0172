package scaler

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/metricsapi"
	"github.com/pushscale/pushscale/store"
)

var _ metricsapi.Values = (*Controller)(nil)

// ExternalMetric answers the external metrics API from the store: no
// broker is asked. The metric name is matched case-insensitively (the HPA
// lower-cases it) and returned in its original case. A value not known yet
// or failing is an error, so the HPA keeps its size, until the failures
// pass fallback.failureThreshold: then the fallback value is served. With
// scalingModifiers the HPA asks for composite-metric, the formula over the
// triggers' values (see modifiers.value).
//
// It does no I/O except for the fallback of a Value target, which counts
// the target's ready pods (one /scale read and one Pod list per request).
func (c *Controller) ExternalMetric(ctx context.Context, namespace, scaledObject, metric string) (string, float64, error) {
	t := c.target(types.NamespacedName{Namespace: namespace, Name: scaledObject})
	var w *watched
	var owner store.Owner
	var fb *kedav1.Fallback
	var current int32
	var decided bool
	var mods *modifiers
	var triggers []watched
	if t != nil {
		t.mu.RLock()
		if !t.refused {
			owner, current, decided, mods, triggers = t.owner, t.replicas, t.decided, t.mods, t.triggers
			if t.so != nil {
				fb = t.so.Spec.Fallback
			}
			for i := range t.triggers {
				if strings.EqualFold(t.triggers[i].spec.MetricName, metric) {
					w = &t.triggers[i]
					break
				}
			}
		}
		t.mu.RUnlock()
	}
	ready := func() (int32, error) { return c.readyReplicas(ctx, t) }
	if mods != nil && strings.EqualFold(metric, kedav1.CompositeMetricName) {
		entries := c.opts.Store.Owner(owner)
		parts := make([]part, 0, len(triggers))
		falling := false
		for _, tw := range triggers {
			parts = append(parts, part{name: tw.name, metric: tw.spec.MetricName, entry: entries[tw.index]})
			falling = falling || inFallback(fb, entries[tw.index].Failures)
		}
		if falling && !decided {
			var err error
			if current, err = c.currentReplicas(ctx, t); err != nil {
				return kedav1.CompositeMetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s: fallback: %w", kedav1.CompositeMetricName, namespace, scaledObject, err)
			}
		}
		v, err := mods.value(parts, fb, current, ready)
		if err != nil {
			return kedav1.CompositeMetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s: %w", kedav1.CompositeMetricName, namespace, scaledObject, err)
		}
		return kedav1.CompositeMetricName, v, nil
	}
	if w == nil {
		return "", 0, fmt.Errorf("%w: %s for ScaledObject %s/%s", metricsapi.ErrNotFound, metric, namespace, scaledObject)
	}
	e, ok := c.opts.Store.Get(store.Key{Owner: owner, Trigger: w.index})
	switch {
	case !ok || !e.Known && e.Failures == 0:
		return w.spec.MetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s has no value yet", w.spec.MetricName, namespace, scaledObject)
	case inFallback(fb, e.Failures):
		if !decided {
			var err error
			if current, err = c.currentReplicas(ctx, t); err != nil {
				return w.spec.MetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s: fallback: %w", w.spec.MetricName, namespace, scaledObject, err)
			}
		}
		v, err := fallbackMetric(w.spec.Target, fallbackReplicas(fb, current), w.metricType, ready)
		if err != nil {
			return w.spec.MetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s: %w", w.spec.MetricName, namespace, scaledObject, err)
		}
		return w.spec.MetricName, v, nil
	case e.Failures > 0:
		return w.spec.MetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s: reading it failed %d time(s): %s", w.spec.MetricName, namespace, scaledObject, e.Failures, e.Err)
	}
	return w.spec.MetricName, e.Value, nil
}

// currentReplicas reads the target's replicas from its /scale: a fallback
// needs them where no decision has counted them yet (a standby, which
// does not decide, or before the first decision).
func (c *Controller) currentReplicas(ctx context.Context, t *target) (int32, error) {
	t.mu.RLock()
	so, gvkr := t.so, t.gvkr
	t.mu.RUnlock()
	if so == nil || gvkr.Resource == "" {
		return 0, fmt.Errorf("the scale target is not resolved yet")
	}
	sc, err := c.scales.Scales(so.Namespace).Get(ctx, schema.GroupResource{Group: gvkr.Group, Resource: gvkr.Resource}, so.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	return sc.Spec.Replicas, nil
}

// readyReplicas counts the target's pods that are running and ready, as
// the HPA does for a Value metric (and KEDA for its fallback): the pods of
// the /scale subresource's status.selector.
func (c *Controller) readyReplicas(ctx context.Context, t *target) (int32, error) {
	t.mu.RLock()
	so, gvkr := t.so, t.gvkr
	t.mu.RUnlock()
	if so == nil || gvkr.Resource == "" {
		return 0, fmt.Errorf("the scale target is not resolved yet")
	}
	sc, err := c.scales.Scales(so.Namespace).Get(ctx, schema.GroupResource{Group: gvkr.Group, Resource: gvkr.Resource}, so.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	sel, err := labels.Parse(sc.Status.Selector)
	if err != nil || sel.Empty() {
		return 0, fmt.Errorf("%s %s has no usable pod selector %q", gvkr.Kind, so.Spec.ScaleTargetRef.Name, sc.Status.Selector)
	}
	pods, err := c.kube.CoreV1().Pods(so.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return 0, err
	}
	var n int32
	for i := range pods.Items {
		if podReady(&pods.Items[i]) {
			n++
		}
	}
	return n, nil
}

// podReady reports whether p is running with its Ready condition True.
func podReady(p *corev1.Pod) bool {
	if p.Status.Phase != corev1.PodRunning || p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// hpaMetrics returns the external metrics of the HPA: composite-metric
// alone with scalingModifiers (KEDA replaces every external metric by it),
// else one per watched trigger.
func hpaMetrics(mods *modifiers, ws []watched) []hpaMetric {
	if len(ws) == 0 {
		return nil
	}
	if mods != nil {
		return []hpaMetric{{name: kedav1.CompositeMetricName, target: mods.target, typ: mods.metricType}}
	}
	metrics := make([]hpaMetric, 0, len(ws))
	for _, w := range ws {
		metrics = append(metrics, hpaMetric{name: w.spec.MetricName, target: w.spec.Target, typ: w.metricType})
	}
	return metrics
}
