package scaler

import (
	"context"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway/store"
	"github.com/pushscale/pushscale/metricsapi"
)

var _ metricsapi.Values = (*Controller)(nil)

// ExternalMetric answers the external metrics API from the store: no
// broker is asked. The metric name is matched case-insensitively (the HPA
// lower-cases it) and returned in its original case. A value not known yet
// or failing is an error, so the HPA keeps its size, until the failures
// pass fallback.failureThreshold: then the fallback value is served.
func (c *Controller) ExternalMetric(_ context.Context, namespace, scaledObject, metric string) (string, float64, error) {
	c.mu.RLock()
	t := c.targets[types.NamespacedName{Namespace: namespace, Name: scaledObject}]
	var w *watched
	var owner store.Owner
	var fb *kedav1.Fallback
	var current int32
	if t != nil {
		owner, current = t.owner, t.replicas
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
	c.mu.RUnlock()
	if w == nil {
		return "", 0, fmt.Errorf("%w: %s for ScaledObject %s/%s", metricsapi.ErrNotFound, metric, namespace, scaledObject)
	}
	e, ok := c.opts.Store.Get(store.Key{Owner: owner, Trigger: w.index})
	switch {
	case !ok || !e.Known && e.Failures == 0:
		return w.spec.MetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s has no value yet", w.spec.MetricName, namespace, scaledObject)
	case inFallback(fb, e.Failures):
		return w.spec.MetricName, fallbackValue(fb, w.spec.Target, current), nil
	case e.Failures > 0:
		return w.spec.MetricName, 0, fmt.Errorf("metric %s of ScaledObject %s/%s: reading it failed %d time(s): %s", w.spec.MetricName, namespace, scaledObject, e.Failures, e.Err)
	}
	return w.spec.MetricName, e.Value, nil
}
