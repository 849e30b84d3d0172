package scaler

import (
	"context"
	"fmt"
	"sort"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// targetIndex indexes ScaledObjects and HPAs by the workload they scale.
const targetIndex = "target"

// workloadKey names a scale target: namespace, API group, kind and name
// (the version is left out: apps/v1 and apps/v1beta1 name one object).
func workloadKey(namespace, apiVersion, kind, name string) string {
	group := apiVersion
	if gv, err := schema.ParseGroupVersion(apiVersion); err == nil {
		group = gv.Group
	}
	return namespace + "/" + group + "/" + kind + "/" + name
}

func soWorkloadKey(so *kedav1.ScaledObject) string {
	ref := so.Spec.ScaleTargetRef
	if ref == nil {
		return ""
	}
	return workloadKey(so.Namespace, ref.APIVersionOrDefault(), ref.KindOrDefault(), ref.Name)
}

func indexSOByWorkload(obj any) ([]string, error) {
	so, ok := obj.(*kedav1.ScaledObject)
	if !ok || so.Spec.ScaleTargetRef == nil {
		return nil, nil
	}
	return []string{soWorkloadKey(so)}, nil
}

func indexHPAByWorkload(obj any) ([]string, error) {
	h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return nil, nil
	}
	ref := h.Spec.ScaleTargetRef
	return []string{workloadKey(h.Namespace, ref.APIVersion, ref.Kind, ref.Name)}, nil
}

// holder returns the ScaledObject that holds so's scale target: of every
// ScaledObject scaling the same workload, the oldest (by creationTimestamp,
// then name), as KEDA's admission check lets only the first one in. One
// being deleted still holds the target until it is gone.
func (c *Controller) holder(so *kedav1.ScaledObject) *kedav1.ScaledObject {
	objs, _ := c.soInformer.GetIndexer().ByIndex(targetIndex, soWorkloadKey(so))
	best := so
	for _, o := range objs {
		other := o.(*kedav1.ScaledObject)
		if other.CreationTimestamp.Before(&best.CreationTimestamp) ||
			other.CreationTimestamp.Equal(&best.CreationTimestamp) && other.Name < best.Name {
			best = other
		}
	}
	return best
}

// heldMessage is the Ready message of a ScaledObject whose target another
// one holds (KEDA's admission message).
func heldMessage(so, by *kedav1.ScaledObject) string {
	ref := so.Spec.ScaleTargetRef
	return fmt.Sprintf("workload '%s' of type '%s.%s' is already managed by ScaledObject '%s'", ref.Name, ref.APIVersionOrDefault(), ref.KindOrDefault(), by.Name)
}

// enqueueWorkload reconciles every ScaledObject scaling the workload key,
// but skip.
func (c *Controller) enqueueWorkload(key string, skip types.UID) {
	if key == "" {
		return
	}
	objs, _ := c.soInformer.GetIndexer().ByIndex(targetIndex, key)
	for _, o := range objs {
		so := o.(*kedav1.ScaledObject)
		if so.UID != skip {
			c.reconcileQ.Add(types.NamespacedName{Namespace: so.Namespace, Name: so.Name})
		}
	}
}

// foreignHPA returns the name of an HPA that scales so's workload and is
// not so's own: KEDA refuses such a ScaledObject, unless the HPA is
// annotated validations.keda.sh/hpa-ownership: "false", or so adopts it
// (transfer-hpa-ownership: "true" and the HPA's name as its custom HPA
// name). "" when there is none. HPAs of other ScaledObjects are not in the
// way: one ScaledObject per workload holds it (see holder), and the others
// delete theirs; those whose ScaledObject is gone (the garbage collector
// has not deleted them yet) are returned as orphans.
func (c *Controller) foreignHPA(so *kedav1.ScaledObject) (string, []*autoscalingv2.HorizontalPodAutoscaler) {
	objs, _ := c.hpaInformer.GetIndexer().ByIndex(targetIndex, soWorkloadKey(so))
	var names []string
	var orphans []*autoscalingv2.HorizontalPodAutoscaler
	for _, o := range objs {
		h := o.(*autoscalingv2.HorizontalPodAutoscaler)
		ref := metav1.GetControllerOf(h)
		if ref != nil && ref.UID == so.UID {
			continue
		}
		if ref != nil && ref.Kind == kedav1.KindScaledObject && ref.APIVersion == kedav1.SchemeGroupVersion.String() {
			if other, ok, _ := c.soInformer.GetIndexer().GetByKey(h.Namespace + "/" + ref.Name); !ok || other.(*kedav1.ScaledObject).UID != ref.UID {
				orphans = append(orphans, h)
			}
			continue
		}
		if h.Annotations[kedav1.AnnotationValidateHPAOwnership] == "false" || adopts(so, h.Name) {
			continue
		}
		names = append(names, h.Name)
	}
	if len(names) == 0 {
		return "", orphans
	}
	sort.Strings(names)
	return names[0], orphans
}

// deleteOrphans deletes HPAs whose controlling ScaledObject is gone (the
// apiserver, not the cache, says so): they are garbage, and in the way of
// the ScaledObject that now holds their workload.
func (c *Controller) deleteOrphans(ctx context.Context, hs []*autoscalingv2.HorizontalPodAutoscaler) error {
	if !c.leading() {
		return nil // the leader's
	}
	for _, h := range hs {
		ref := metav1.GetControllerOf(h)
		var owner kedav1.ScaledObject
		err := c.keda.Get().Namespace(h.Namespace).Resource("scaledobjects").Name(ref.Name).Do(ctx).Into(&owner)
		if err == nil && owner.UID == ref.UID {
			continue // alive: it deletes its own
		}
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("get ScaledObject %s: %w", ref.Name, err)
		}
		if err := c.deleteOwnedHPA(ctx, h.Namespace, h.Name, string(ref.UID)); err != nil {
			return err
		}
		c.log.Info("deleted the HPA of a deleted ScaledObject", "namespace", h.Namespace, "hpa", h.Name, "scaledObject", ref.Name)
	}
	return nil
}

// adopts reports whether so takes over an existing HPA named name: KEDA's
// scaledobject.keda.sh/transfer-hpa-ownership: "true" with that name as
// advanced.horizontalPodAutoscalerConfig.name.
func adopts(so *kedav1.ScaledObject, name string) bool {
	a := so.Spec.Advanced
	return so.Annotations[kedav1.AnnotationTransferHPAOwnership] == "true" &&
		a != nil && a.HorizontalPodAutoscalerConfig != nil && a.HorizontalPodAutoscalerConfig.Name == name
}

// hpaHandlers reconcile the ScaledObjects an HPA change concerns: its
// controller (when it is changed by someone, or deleted: it is put back)
// and every ScaledObject scaling the same workload (an HPA in the way
// appeared or went). Status updates (every sync period) are ignored.
func (c *Controller) hpaHandlers() cache.ResourceEventHandler {
	owner := func(h *autoscalingv2.HorizontalPodAutoscaler) {
		if ref := metav1.GetControllerOf(h); ref != nil && ref.Kind == kedav1.KindScaledObject {
			c.reconcileQ.Add(types.NamespacedName{Namespace: h.Namespace, Name: ref.Name})
		}
	}
	controller := func(h *autoscalingv2.HorizontalPodAutoscaler) types.UID {
		if ref := metav1.GetControllerOf(h); ref != nil {
			return ref.UID
		}
		return ""
	}
	workload := func(h *autoscalingv2.HorizontalPodAutoscaler) string {
		keys, _ := indexHPAByWorkload(h)
		return keys[0]
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			h := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			// Our own creation needs no reconcile of its owner.
			c.enqueueWorkload(workload(h), controller(h))
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*autoscalingv2.HorizontalPodAutoscaler), newObj.(*autoscalingv2.HorizontalPodAutoscaler)
			if o.Generation == n.Generation && mapsEqual(o.Labels, n.Labels) && mapsEqual(o.Annotations, n.Annotations) &&
				controller(o) == controller(n) {
				return
			}
			owner(n)
			c.enqueueWorkload(workload(n), "")
			if workload(o) != workload(n) {
				c.enqueueWorkload(workload(o), "")
			}
		},
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
			if !ok {
				return
			}
			owner(h)
			c.enqueueWorkload(workload(h), "")
		},
	}
}
