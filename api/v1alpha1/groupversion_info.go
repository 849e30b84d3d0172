package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of every kind in this package, the same as KEDA's.
const GroupName = "keda.sh"

// Kind names, as they appear in apiVersion/kind, in owner references and in
// authenticationRef.kind.
const (
	KindScaledObject                 = "ScaledObject"
	KindScaledJob                    = "ScaledJob"
	KindTriggerAuthentication        = "TriggerAuthentication"
	KindClusterTriggerAuthentication = "ClusterTriggerAuthentication"
)

// SchemeGroupVersion is the group and version of every kind in this package: keda.sh/v1alpha1.
var SchemeGroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

var (
	// SchemeBuilder registers the package's kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)
	// AddToScheme adds ScaledObject, ScaledJob, TriggerAuthentication,
	// ClusterTriggerAuthentication and their lists to a scheme, e.g. for a typed client or an
	// informer. It is safe to call more than once on the same scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// Resource returns the group-qualified resource for an unqualified resource name, e.g.
// Resource("scaledobjects") is scaledobjects.keda.sh. Used to build API errors.
func Resource(resource string) schema.GroupResource {
	return SchemeGroupVersion.WithResource(resource).GroupResource()
}

// Kind returns the group-qualified kind for an unqualified kind name.
func Kind(kind string) schema.GroupKind {
	return SchemeGroupVersion.WithKind(kind).GroupKind()
}

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(SchemeGroupVersion,
		&ScaledObject{}, &ScaledObjectList{},
		&ScaledJob{}, &ScaledJobList{},
		&TriggerAuthentication{}, &TriggerAuthenticationList{},
		&ClusterTriggerAuthentication{}, &ClusterTriggerAuthenticationList{},
	)
	metav1.AddToGroupVersion(scheme, SchemeGroupVersion)
	return nil
}
