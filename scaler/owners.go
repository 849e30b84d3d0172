package scaler

import (
	"fmt"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
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
