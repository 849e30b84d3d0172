// Package scaler holds the ScaledObject and ScaledJob controllers: they
// watch keda.sh/v1alpha1 objects on informers, hand their triggers to the
// sources (Watch/Unwatch), write status and Events. The ScaledObject
// controller owns each object's HPA and runs the activator, which turns
// store changes into 0↔1 scale decisions at once; the ScaledJob
// controller (sj_*.go) turns store changes, and its Jobs' and Pods'
// changes, into Jobs at once (CountJobs, KEDA's job count, decides how
// many).
//
// The decision itself is a pure function (Decide); executing it (a write
// to the target's /scale subresource) is a separate small step. Store
// changes reach the activator through a coalescing workqueue keyed by
// object, so duplicates merge and nothing is lost.
//
// # The HPA
//
// Each object's HPA is what the reconcile wants (built from the spec, the
// pause annotations turning its scale up or down off) unless the object is
// paused, when it is deleted, as KEDA does. A non-zero idleReplicaCount is
// where pushscale parts from KEDA: KEDA scales an idle target to that
// count and leaves its HPA in place, which lifts the target straight back
// to minReplicas (the HPA only stands still at 0 replicas), so the two
// fight. Here, while the target is idle (replicas == idleReplicaCount <
// minReplicaCount, inactive), the HPA is deleted before the target is
// scaled to idle, and created again right after the activation scales it
// to minReplicaCount. Deleting, rather than pinning min = max = idle,
// leaves no HPA whose figures look like a decision. idleReplicaCount 0
// keeps the HPA: at 0 replicas it does nothing.
//
// # Secrets and ConfigMaps
//
// TriggerAuthentications and the scale target's env read Secrets and
// ConfigMaps through refcache: what one reconcile reads is what the
// object references, watched by name and served from memory. A change to
// one reconciles the objects that read it; the trigger fingerprint then
// re-watches a trigger whose resolved parameters changed, so a rotated
// credential applies without a restart.
package scaler
