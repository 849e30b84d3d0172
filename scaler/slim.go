package scaler

import (
	"maps"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/cache"
)

// lastApplied is kubectl's copy of the whole applied object.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// slim is the informers' transform: it drops what the controller never
// reads from cached objects, managedFields and kubectl's
// last-applied-configuration, which can be larger than the rest of an
// object and would be held for every ScaledObject and HPA.
func slim(obj any) (any, error) {
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
