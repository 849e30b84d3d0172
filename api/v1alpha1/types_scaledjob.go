package v1alpha1

import (
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ScaledJob creates Kubernetes Jobs from a template as work arrives on its triggers, instead
// of scaling a long-running workload.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=scaledjobs,scope=Namespaced,shortName=sj
// +kubebuilder:printcolumn:name="Min",type="integer",JSONPath=".spec.minReplicaCount"
// +kubebuilder:printcolumn:name="Max",type="integer",JSONPath=".spec.maxReplicaCount"
// +kubebuilder:printcolumn:name="Ready",type="string",JSONPath=".status.conditions[?(@.type==\"Ready\")].status"
// +kubebuilder:printcolumn:name="Active",type="string",JSONPath=".status.conditions[?(@.type==\"Active\")].status"
// +kubebuilder:printcolumn:name="Paused",type="string",JSONPath=".status.conditions[?(@.type==\"Paused\")].status"
// +kubebuilder:printcolumn:name="Triggers",type="string",JSONPath=".status.triggersTypes"
// +kubebuilder:printcolumn:name="Authentications",type="string",JSONPath=".status.authenticationsTypes"
// +kubebuilder:printcolumn:name="PushHealthy",type="string",priority=1,JSONPath=".status.conditions[?(@.type==\"PushHealthy\")].status"
// +kubebuilder:printcolumn:name="Age",type="date",JSONPath=".metadata.creationTimestamp"
type ScaledJob struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ScaledJobSpec `json:"spec"`
	// +optional
	Status ScaledJobStatus `json:"status,omitempty"`
}

// ScaledJobList is a list of ScaledJobs.
//
// +kubebuilder:object:root=true
type ScaledJobList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ScaledJob `json:"items"`
}

// ScaledJobSpec is the Job template of a ScaledJob, its bounds, and its triggers. Unset
// optional fields take KEDA's defaults; read them through the accessors in defaults.go.
type ScaledJobSpec struct {
	// JobTargetRef is the spec of every Job created. Its schema in the CRD is left open
	// (x-kubernetes-preserve-unknown-fields) to keep the CRD small enough for client-side
	// apply: the full PodTemplateSpec schema is several hundred kilobytes. Nothing is pruned,
	// so any Job spec round-trips; the API server validates it when the Job is created.
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	JobTargetRef *batchv1.JobSpec `json:"jobTargetRef"`

	// PollingInterval in seconds (default 30) is the period of the scaling loop.
	// +optional
	PollingInterval *int32 `json:"pollingInterval,omitempty"`

	// SuccessfulJobsHistoryLimit (default 100) is how many finished successful Jobs are kept.
	// +optional
	SuccessfulJobsHistoryLimit *int32 `json:"successfulJobsHistoryLimit,omitempty"`

	// FailedJobsHistoryLimit (default 100) is how many failed Jobs are kept.
	// +optional
	FailedJobsHistoryLimit *int32 `json:"failedJobsHistoryLimit,omitempty"`

	// RolloutStrategy is the deprecated top-level alias of rollout.strategy.
	// +optional
	RolloutStrategy string `json:"rolloutStrategy,omitempty"`

	// Rollout says what happens to running Jobs when the spec changes.
	// +optional
	Rollout Rollout `json:"rollout,omitempty"`

	// EnvSourceContainerName is the container whose environment resolves *FromEnv metadata
	// (default the first container of the template).
	// +optional
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`

	// MinReplicaCount (default 0) is the number of Jobs kept running at all times.
	// +optional
	MinReplicaCount *int32 `json:"minReplicaCount,omitempty"`

	// MaxReplicaCount (default 100) bounds the number of running Jobs.
	// +optional
	MaxReplicaCount *int32 `json:"maxReplicaCount,omitempty"`

	// ScalingStrategy chooses how many Jobs to create for a given queue length.
	// +optional
	ScalingStrategy ScalingStrategy `json:"scalingStrategy,omitempty"`

	// Triggers are the event sources.
	// +kubebuilder:validation:MinItems=1
	Triggers []ScaleTrigger `json:"triggers"`
}

// ScalingStrategy tunes the number of Jobs a ScaledJob creates.
type ScalingStrategy struct {
	// Strategy is default, custom, accurate or eager (default "default").
	// +optional
	Strategy string `json:"strategy,omitempty"`

	// CustomScalingQueueLengthDeduction is subtracted from the maximum (custom strategy only).
	// +optional
	CustomScalingQueueLengthDeduction *int32 `json:"customScalingQueueLengthDeduction,omitempty"`

	// CustomScalingRunningJobPercentage, a decimal number written as a string, is the share of
	// running Jobs subtracted from the maximum (custom strategy only).
	// +optional
	CustomScalingRunningJobPercentage string `json:"customScalingRunningJobPercentage,omitempty"`

	// PendingPodConditions are pod condition types that must all be True for a Job to stop
	// counting as pending.
	// +optional
	PendingPodConditions []string `json:"pendingPodConditions,omitempty"`

	// MultipleScalersCalculation combines several active triggers: max (default), min, avg or
	// sum.
	// +optional
	MultipleScalersCalculation string `json:"multipleScalersCalculation,omitempty"`
}

// Rollout says how Jobs of an older spec are treated after the ScaledJob changes.
type Rollout struct {
	// Strategy is default (delete Jobs of older generations) or gradual (let them finish).
	// +optional
	Strategy string `json:"strategy,omitempty"`

	// PropagationPolicy of those deletions: background (default) or foreground.
	// +optional
	PropagationPolicy string `json:"propagationPolicy,omitempty"`
}

// ScaledJobStatus is the observed state of a ScaledJob, with KEDA's field names.
type ScaledJobStatus struct {
	// LastActiveTime is the last moment any trigger was active.
	// +optional
	LastActiveTime *metav1.Time `json:"lastActiveTime,omitempty"`
	// Conditions are Ready, Active, Paused and PushHealthy.
	// +optional
	Conditions Conditions `json:"conditions,omitempty"`
	// Paused mirrors the paused annotation ("true" while paused). The capital P is KEDA's.
	// +optional
	Paused string `json:"Paused,omitempty"`
	// TriggersTypes is the comma-separated list of trigger types, for the printer column.
	// +optional
	TriggersTypes string `json:"triggersTypes,omitempty"`
	// AuthenticationsTypes is the comma-separated list of authenticationRef names.
	// +optional
	AuthenticationsTypes string `json:"authenticationsTypes,omitempty"`
	// ExternalMetricNames are the sN-... names of the triggers' metrics.
	// +optional
	ExternalMetricNames []string `json:"externalMetricNames,omitempty"`
	// TriggersActivity tells, per metric name, whether that trigger is active.
	// +optional
	TriggersActivity map[string]TriggerActivityStatus `json:"triggersActivity,omitempty"`
}
