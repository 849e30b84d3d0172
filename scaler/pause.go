package scaler

import (
	"context"
	"fmt"
	"time"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// decidePaused is the decision of a paused ScaledObject (paused or
// paused-replicas): its HPA is gone (the reconcile deleted it before
// pausing), nothing is scaled but the target to the paused replica count,
// once, and the status records that count. Activity, health and
// lastActiveTime stay as they were, as KEDA stops its loop; no timer is
// set.
func (c *Controller) decidePaused(ctx context.Context, t *target, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource, ctl controls, status *kedav1.ScaledObjectStatus) error {
	t.mu.Lock()
	prev := t.written
	// Replicas may change while paused: read them again on resume.
	t.replicasAt, t.replicasStale = time.Time{}, true
	t.mu.Unlock()
	if prev == nil {
		prev = &so.Status
	}
	in := Input{Paused: ctl.paused, PausedReplicas: ctl.pausedReplicas, PausedApplied: prev.PausedReplicaCount}
	status.PausedReplicaCount = nil
	if p := ctl.pausedReplicas; p != nil {
		if in.PausedApplied == nil || *in.PausedApplied != *p {
			sc, err := c.readScale(ctx, t, so, gvkr, status)
			if err != nil {
				return err
			}
			in.Current = sc.Spec.Replicas
			if d := Decide(in); d.Scale != nil {
				if err := c.setReplicas(ctx, so, gvkr, sc, in.Current, *d.Scale); err != nil {
					c.event(so, true, "KEDAScaleTargetActivationFailed", "Failed to scale %s %s/%s to the paused replica count %d: %v",
						gvkr.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, *d.Scale, err)
					return fmt.Errorf("scaler: scale %s to paused replicas: %w", so.Spec.ScaleTargetRef.Name, err)
				}
				c.log.Info("scaled to the paused replica count", "namespace", so.Namespace, "scaledObject", so.Name, "from", in.Current, "to", *d.Scale)
			}
		}
		status.PausedReplicaCount = ptr(*p)
	}
	c.describe(t, so, gvkr, status)
	return c.writeStatus(ctx, t, so, status)
}
