// +kubebuilder:object:generate=true
// +groupName=keda.sh

// Package v1alpha1 holds the Go types of KEDA's keda.sh/v1alpha1 API as pushscale reads it:
// ScaledObject, ScaledJob, TriggerAuthentication and ClusterTriggerAuthentication, with the same
// JSON field names, defaults and validation as KEDA's CRDs, so existing KEDA manifests apply
// unchanged.
//
// Beside the types the package holds the small, pure helpers every other package needs to agree
// on: defaults (defaults.go), condition types and reasons (conditions.go), annotation, label and
// metric names (names.go), and the admission checks that need no API lookups (validate.go).
// Nothing here does I/O or keeps state; every function is safe for concurrent use.
//
// The deepcopy functions (zz_generated.deepcopy.go) and the CRDs in manifests/crds are generated
// by controller-gen from the kubebuilder markers on the types; run `go generate ./api/...` from
// the module root after changing a type.
package v1alpha1

//go:generate sh -c "cd ../.. && go tool controller-gen object paths=./api/... && go tool controller-gen crd paths=./api/... output:crd:artifacts:config=manifests/crds"
