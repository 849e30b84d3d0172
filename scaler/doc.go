// Package scaler holds the ScaledObject controller: it watches
// keda.sh/v1alpha1 objects on informers, hands their triggers to the
// sources (Watch/Unwatch), owns each object's HPA, writes status and
// Events, and runs the activator, which turns store changes into 0↔1
// scale decisions at once.
//
// The decision itself is a pure function (Decide); executing it (a write
// to the target's /scale subresource) is a separate small step. Store
// changes reach the activator through a coalescing workqueue keyed by
// object, so duplicates merge and nothing is lost.
package scaler
