package scaler

import (
	"maps"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// lastApplied is kubectl's copy of the whole applied object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slim is the informers' transform: it drops what the controller never
// reads from cached objects, managedFields, kubectl's
// last-applied-configuration (each can be larger than the rest of an
// object and would be held for every ScaledObject and HPA) and HPAs'
// status.
func slim(obj any) (any, error) {
	if h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler); ok {
		// Read for ownership and spec only; the HPA controller's status
		// (conditions, current metrics) is never read, and updates of the
		// main resource ignore it.
		h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{}
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return obj, nil // e.g. cache.DeletedFinalStateUnknown
	}
	m.SetManagedFields(nil)
	if a := m.GetAnnotations(); a != nil {
		if _, ok := a[lastApplied]; ok {
			a = maps.Clone(a)
			delete(a, lastApplied)
			m.SetAnnotations(a)
		}
	}
	return obj, nil
}

var _ cache.TransformFunc = slim
