package v1alpha1

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// ScaleTrigger is one entry of spec.triggers of a ScaledObject or ScaledJob: a scaler type, its
// metadata and, optionally, the TriggerAuthentication it takes credentials from. Its position in
// spec.triggers is its index, the N of the "sN-" prefix of its external metric name.
type ScaleTrigger struct {
	// Type names the scaler, e.g. redis, kafka, rabbitmq, cpu.
	Type string `json:"type"`

	// Name identifies the trigger within its object; it must be unique there and is how
	// scalingModifiers.formula refers to the trigger.
	// +optional
	Name string `json:"name,omitempty"`

	// UseCachedMetrics asks for the metrics API to answer from the value read by the polling loop
	// instead of querying the source. Not allowed on cpu, memory and cron triggers; ignored on
	// ScaledJobs.
	// +optional
	UseCachedMetrics bool `json:"useCachedMetrics,omitempty"`

	// Metadata is the scaler's configuration; every value is a string, as in KEDA.
	Metadata map[string]string `json:"metadata"`

	// AuthenticationRef names the TriggerAuthentication or ClusterTriggerAuthentication whose
	// parameters the scaler reads.
	// +optional
	AuthenticationRef *AuthenticationRef `json:"authenticationRef,omitempty"`

	// MetricType is the HPA target type of the trigger's metric: AverageValue (the default),
	// Value, or Utilization (cpu and memory only). Not used by ScaledJobs.
	// +optional
	MetricType autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// AuthenticationRef points a trigger at a TriggerAuthentication in the trigger's namespace or at
// a ClusterTriggerAuthentication.
type AuthenticationRef struct {
	// Name of the referenced object.
	Name string `json:"name"`

	// Kind of the referenced object: TriggerAuthentication (the default when empty) or
	// ClusterTriggerAuthentication.
	// +optional
	Kind string `json:"kind,omitempty"`
}
