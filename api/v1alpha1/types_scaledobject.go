package v1alpha1

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ScaledObject scales a Deployment, StatefulSet or any resource with a /scale subresource on
// the values of its triggers: 0<->1 by pushscale itself, 1<->N through an HPA it owns.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=scaledobjects,scope=Namespaced,shortName=so
// +kubebuilder:printcolumn:name="ScaleTargetKind",type="string",JSONPath=".status.scaleTargetKind"
// +kubebuilder:printcolumn:name="ScaleTargetName",type="string",JSONPath=".spec.scaleTargetRef.name"
// +kubebuilder:printcolumn:name="Min",type="integer",JSONPath=".spec.minReplicaCount"
// +kubebuilder:printcolumn:name="Max",type="integer",JSONPath=".spec.maxReplicaCount"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Active",type="string",JSONPath=".status.conditions[?(@.type==\"Active\")].status"
// +kubebuilder:printcolumn:name="Fallback",type="string",JSONPath=".status.conditions[?(@.type==\"Fallback\")].status"
// +kubebuilder:printcolumn:name="Paused",type="string",JSONPath=".status.conditions[?(@.type==\"Paused\")].status"
// +kubebuilder:printcolumn:name="Triggers",type="string",JSONPath=".status.triggersTypes"
// +kubebuilder:printcolumn:name="Authentications",type="string",JSONPath=".status.authenticationsTypes"
// +kubebuilder:printcolumn:name="PushHealthy",type="string",priority=1,JSONPath=".status.conditions[?(@.type==\"PushHealthy\")].status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ScaledObjectSpec `json:"spec"`
	// +optional
	Status ScaledObjectStatus `json:"status,omitempty"`
}

// ScaledObjectList is a list of ScaledObjects.
//
// +kubebuilder:object:root=true
type ScaledObjectList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ScaledObject `json:"items"`
}

// ScaledObjectSpec is what a ScaledObject scales, within which bounds, and on which triggers.
// Unset optional fields take KEDA's defaults; read them through the *OrDefault accessors in
// defaults.go rather than dereferencing the pointers.
//
// +kubebuilder:validation:XValidation:rule="!has(self.minReplicaCount) || self.minReplicaCount <= (has(self.maxReplicaCount) ? self.maxReplicaCount : 100)",message="minReplicaCount must not be greater than maxReplicaCount"
type ScaledObjectSpec struct {
	// ScaleTargetRef is the resource to scale.
	ScaleTargetRef *ScaleTarget `json:"scaleTargetRef"`

	// PollingInterval in seconds (default 30) is the period of the safety-net poll of triggers
	// whose source cannot push, or is busy.
	// +optional
	// +kubebuilder:validation:Minimum=1
	PollingInterval *int32 `json:"pollingInterval,omitempty"`

	// InitialCooldownPeriod in seconds (default 0): while status.lastActiveTime is unset, no
	// scale to zero before creationTimestamp plus this period.
	// +optional
	// +kubebuilder:validation:Minimum=0
	InitialCooldownPeriod *int32 `json:"initialCooldownPeriod,omitempty"`

	// CooldownPeriod in seconds (default 300) since the last active moment before scaling to
	// zero (or to idleReplicaCount).
	// +optional
	// +kubebuilder:validation:Minimum=0
	CooldownPeriod *int32 `json:"cooldownPeriod,omitempty"`

	// IdleReplicaCount, when set, is the replica count while no trigger is active; it must be
	// less than minReplicaCount.
	// +optional
	// +kubebuilder:validation:Minimum=0
	IdleReplicaCount *int32 `json:"idleReplicaCount,omitempty"`

	// MinReplicaCount (default 0) is the lower bound while active; 0 enables scale to zero.
	// +optional
	// +kubebuilder:validation:Minimum=0
	MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`

	// MaxReplicaCount (default 100) is the HPA's maxReplicas.
	// +optional
	// +kubebuilder:validation:Minimum=1
	MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`

	// Advanced holds the HPA settings, scaling modifiers and restore-on-delete.
	// +optional
	Advanced *AdvancedConfig `json:"advanced,omitempty"`

	// Triggers are the event sources; the object is active when any of them is.
	// +kubebuilder:validation:MinItems=1
	Triggers []ScaleTrigger `json:"triggers"`

	// Fallback sets the replica count used while a trigger keeps failing.
	// +optional
	Fallback *Fallback `json:"fallback,omitempty"`
}

// ScaleTarget references the resource a ScaledObject scales.
type ScaleTarget struct {
	// Name of the target, in the ScaledObject's namespace.
	// +kubebuilder:validation:MinLength=1
	Name string `json:"name"`

	// APIVersion of the target (default apps/v1).
	// +optional
	APIVersion string `json:"apiVersion,omitempty"`

	// Kind of the target (default Deployment).
	// +optional
	Kind string `json:"kind,omitempty"`

	// EnvSourceContainerName is the container whose environment resolves *FromEnv metadata and
	// TriggerAuthentication env entries (default the first container).
	// +optional
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

// AdvancedConfig holds the less common ScaledObject settings.
type AdvancedConfig struct {
	// HorizontalPodAutoscalerConfig names the generated HPA and sets its behavior.
	// +optional
	HorizontalPodAutoscalerConfig *HorizontalPodAutoscalerConfig `json:"horizontalPodAutoscalerConfig,omitempty"`

	// RestoreToOriginalReplicaCount, when true, sets the target back to
	// status.originalReplicaCount when the ScaledObject is deleted.
	// +optional
	RestoreToOriginalReplicaCount bool `json:"restoreToOriginalReplicaCount,omitempty"`

	// ScalingModifiers combine the triggers' values with a formula into one composite metric.
	// +optional
	ScalingModifiers *ScalingModifiers `json:"scalingModifiers,omitempty"`
}

// HorizontalPodAutoscalerConfig customises the HPA generated for a ScaledObject.
type HorizontalPodAutoscalerConfig struct {
	// Behavior is copied verbatim into the HPA's spec.behavior.
	// +optional
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`

	// Name of the HPA (default keda-hpa-<ScaledObject name>).
	// +optional
	Name string `json:"name,omitempty"`
}

// ScalingModifiers replace the external metrics of a ScaledObject by one composite metric,
// the value of Formula over the triggers' values (by trigger name).
type ScalingModifiers struct {
	// Formula is an expr-lang expression over trigger names; cpu and memory triggers are not
	// available to it.
	// +optional
	Formula string `json:"formula,omitempty"`

	// Target is the HPA target of the composite metric, a number greater than 0 written as a
	// string; required with a formula.
	// +optional
	Target string `json:"target,omitempty"`

	// ActivationTarget (default 0): the object is active when the composite value is above it.
	// +optional
	ActivationTarget string `json:"activationTarget,omitempty"`

	// MetricType of the composite metric: AverageValue (default) or Value.
	// +optional
	// +kubebuilder:validation:Enum=AverageValue;Value
	MetricType autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// Fallback is the replica count to ask for while a trigger's reads keep failing.
type Fallback struct {
	// FailureThreshold is the number of consecutive failed reads of a metric before its fallback
	// value is served.
	// +kubebuilder:validation:Minimum=0
	FailureThreshold int32 `json:"failureThreshold"`

	// Replicas is the fallback replica count.
	// +kubebuilder:validation:Minimum=0
	Replicas int32 `json:"replicas"`

	// Behavior chooses the replica count used: static (Replicas), currentReplicas,
	// currentReplicasIfHigher, currentReplicasIfLower, or scalingModifiers.
	// +optional
	// +kubebuilder:default=static
	// +kubebuilder:validation:Enum=static;currentReplicas;currentReplicasIfHigher;currentReplicasIfLower;scalingModifiers
	Behavior string `json:"behavior,omitempty"`
}

// ScaledObjectStatus is the observed state of a ScaledObject, with KEDA's field names.
type ScaledObjectStatus struct {
	// ScaleTargetKind is the resolved target as group/version.Kind, e.g. apps/v1.Deployment.
	// +optional
	ScaleTargetKind string `json:"scaleTargetKind,omitempty"`
	// ScaleTargetGVKR is the resolved group, version, kind and resource of the target.
	// +optional
	ScaleTargetGVKR *GroupVersionKindResource `json:"scaleTargetGVKR,omitempty"`
	// OriginalReplicaCount is the target's replica count when it was first taken over.
	// +optional
	OriginalReplicaCount *int32 `json:"originalReplicaCount,omitempty"`
	// LastActiveTime is the last moment any trigger was active; cooldown counts from it.
	// +optional
	LastActiveTime *metav1.Time `json:"lastActiveTime,omitempty"`
	// ExternalMetricNames are the sN-... names of the external metrics served for the HPA.
	// +optional
	ExternalMetricNames []string `json:"externalMetricNames,omitempty"`
	// ResourceMetricNames are the HPA resource metrics (cpu, memory).
	// +optional
	ResourceMetricNames []string `json:"resourceMetricNames,omitempty"`
	// CompositeScalerName is composite-metric when scalingModifiers are used.
	// +optional
	CompositeScalerName string `json:"compositeScalerName,omitempty"`
	// Conditions are Ready, Active, Fallback, Paused and PushHealthy.
	// +optional
	Conditions Conditions `json:"conditions,omitempty"`
	// Health counts consecutive failures per metric name.
	// +optional
	Health map[string]HealthStatus `json:"health,omitempty"`
	// TriggersActivity tells, per metric name, whether that trigger is active.
	// +optional
	TriggersActivity map[string]TriggerActivityStatus `json:"triggersActivity,omitempty"`
	// PausedReplicaCount is the replica count set by the paused-replicas annotation.
	// +optional
	PausedReplicaCount *int32 `json:"pausedReplicaCount,omitempty"`
	// HpaName is the name of the HPA owned by the ScaledObject.
	// +optional
	HpaName string `json:"hpaName,omitempty"`
	// TriggersTypes is the comma-separated list of trigger types, for the printer column.
	// +optional
	TriggersTypes string `json:"triggersTypes,omitempty"`
	// AuthenticationsTypes is the comma-separated list of authenticationRef names.
	// +optional
	AuthenticationsTypes string `json:"authenticationsTypes,omitempty"`
}

// HealthStatus is the read health of one metric.
type HealthStatus struct {
	// NumberOfFailures is the count of consecutive failed reads.
	// +optional
	NumberOfFailures *int32 `json:"numberOfFailures,omitempty"`
	// Status is Happy after a successful read, Failing after a failed one.
	// +optional
	Status HealthStatusType `json:"status,omitempty"`
}

// HealthStatusType is Happy or Failing.
type HealthStatusType string

// The values of HealthStatus.Status.
const (
	HealthStatusHappy   HealthStatusType = "Happy"
	HealthStatusFailing HealthStatusType = "Failing"
)

// TriggerActivityStatus tells whether one trigger is active.
type TriggerActivityStatus struct {
	// IsActive is true while the trigger's value is above its activation threshold.
	IsActive bool `json:"isActive"`
}

// GroupVersionKindResource identifies a resolved scale target.
type GroupVersionKindResource struct {
	// Group of the target, empty for the core group.
	Group string `json:"group"`
	// Version of the target's API.
	Version string `json:"version"`
	// Kind of the target.
	Kind string `json:"kind"`
	// Resource is the plural resource name, e.g. deployments.
	Resource string `json:"resource"`
}

// GroupVersionKind returns the group, version and kind.
func (g GroupVersionKindResource) GroupVersionKind() schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: g.Group, Version: g.Version, Kind: g.Kind}
}

// GroupResource returns the group and resource, e.g. for a scale client.
func (g GroupVersionKindResource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: g.Group, Resource: g.Resource}
}

// GVKString returns the form used in status.scaleTargetKind: group/version.Kind
// (e.g. apps/v1.Deployment).
func (g GroupVersionKindResource) GVKString() string {
	return g.Group + "/" + g.Version + "." + g.Kind
}
