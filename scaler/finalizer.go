package scaler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// restores reports whether so asks for its target's replicas back on
// deletion (advanced.restoreToOriginalReplicaCount).
func restores(so *kedav1.ScaledObject) bool {
	return so.Spec.Advanced != nil && so.Spec.Advanced.RestoreToOriginalReplicaCount
}

// ensureFinalizer puts KEDA's finalizer on so when it restores its
// target's replicas on deletion, and takes it off otherwise (KEDA puts it
// on every ScaledObject: objects migrated from KEDA carry it). Without it
// a deletion needs nothing from us.
func (c *Controller) ensureFinalizer(ctx context.Context, so *kedav1.ScaledObject) error {
	if !c.leading() {
		return nil // the leader's; a takeover reconciles again
	}
	has := slices.Contains(so.Finalizers, kedav1.Finalizer)
	switch want := restores(so); {
	case want && !has:
		return c.setFinalizers(ctx, so, append(slices.Clone(so.Finalizers), kedav1.Finalizer))
	case !want && has:
		return c.setFinalizers(ctx, so, slices.DeleteFunc(slices.Clone(so.Finalizers), func(f string) bool { return f == kedav1.Finalizer }))
	}
	return nil
}

// setFinalizers replaces so's finalizers with one merge patch guarded by
// so's resourceVersion: a conflict means the cache was stale, and the
// reconcile is retried.
func (c *Controller) setFinalizers(ctx context.Context, so *kedav1.ScaledObject, finalizers []string) error {
	return c.patchFinalizers(ctx, "scaledobjects", so, finalizers)
}

// patchFinalizers is setFinalizers for obj of any keda.sh resource.
func (c *Controller) patchFinalizers(ctx context.Context, resource string, obj metav1.Object, finalizers []string) error {
	if finalizers == nil {
		finalizers = []string{}
	}
	body, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"finalizers": finalizers, "resourceVersion": obj.GetResourceVersion(),
	}})
	if err != nil {
		return err
	}
	err = c.keda.Patch(types.MergePatchType).Namespace(obj.GetNamespace()).Resource(resource).
		Name(obj.GetName()).Body(body).Do(ctx).Error()
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("scaler: set finalizers of %s/%s: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	return nil
}

// finalize handles a ScaledObject being deleted: it is forgotten at once
// (no more decisions); with our finalizer, its HPA is deleted (so it
// cannot scale the target again), the target's replicas are set back to
// status.originalReplicaCount when the object asks for it and holds the
// target, and the finalizer is removed. A standby only forgets it: the
// leader finalizes (a takeover reconciles every object again).
func (c *Controller) finalize(ctx context.Context, key types.NamespacedName, so *kedav1.ScaledObject) error {
	c.teardown(key)
	if !c.leading() || !slices.Contains(so.Finalizers, kedav1.Finalizer) {
		return nil
	}
	st := so.Status
	if restores(so) && st.ScaleTargetGVKR != nil && st.OriginalReplicaCount != nil && c.holder(so).UID == so.UID {
		for _, name := range []string{st.HpaName, so.HPAName()} {
			if name == "" {
				continue
			}
			if err := c.deleteOwnedHPA(ctx, so.Namespace, name, string(so.UID)); err != nil {
				return err
			}
		}
		if err := c.restore(ctx, so); err != nil {
			if retryable(err) {
				return err
			}
			// As KEDA: a restore that cannot succeed does not keep the
			// object from going.
			c.event(so, true, "KEDAScaleTargetRestoreFailed", "Failed to restore %s %s/%s to its original %d replicas: %v",
				st.ScaleTargetGVKR.Kind, so.Namespace, so.Spec.ScaleTargetRef.Name, *st.OriginalReplicaCount, err)
		}
	}
	if err := c.setFinalizers(ctx, so, slices.DeleteFunc(slices.Clone(so.Finalizers), func(f string) bool { return f == kedav1.Finalizer })); err != nil {
		return err
	}
	c.event(so, true, "ScaledObjectDeleted", "ScaledObject was deleted")
	return nil
}

// retryable reports whether an error may pass on its own: anything but
// the apiserver refusing the request for good (forbidden, invalid, …).
func retryable(err error) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return true // the network, a timeout
	}
	return apierrors.IsConflict(err) || apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsInternalError(err)
}

// restore writes status.originalReplicaCount to the target's /scale. A
// target that is gone needs nothing.
func (c *Controller) restore(ctx context.Context, so *kedav1.ScaledObject) error {
	gr := so.Status.ScaleTargetGVKR.GroupResource()
	name, want := so.Spec.ScaleTargetRef.Name, *so.Status.OriginalReplicaCount
	sc, err := c.scales.Scales(so.Namespace).Get(ctx, gr, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scaler: restore %s: %w", name, err)
	}
	if sc.Spec.Replicas == want {
		return nil
	}
	from := sc.Spec.Replicas
	sc.Spec.Replicas = want
	if _, err := c.scales.Scales(so.Namespace).Update(ctx, gr, sc, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("scaler: restore %s: %w", name, err)
	}
	c.log.Info("restored the original replica count", "namespace", so.Namespace, "scaledObject", so.Name, "from", from, "to", want)
	return nil
}
