package v1alpha1

import (
	"strconv"
	"strings"
)

// Annotations read from ScaledObjects and ScaledJobs, with KEDA's keys and meaning.
const (
	// AnnotationPaused: any value other than one parsing as false (strconv.ParseBool) pauses
	// the object: the scaling loop stops, the HPA is deleted, replicas stay as they are.
	AnnotationPaused = "autoscaling.keda.sh/paused"
	// AnnotationPausedReplicas: pauses a ScaledObject and scales its target to the given count.
	AnnotationPausedReplicas = "autoscaling.keda.sh/paused-replicas"
	// AnnotationPausedScaleIn: when true, no scale in (HPA scaleDown Disabled, no scale to zero).
	AnnotationPausedScaleIn = "autoscaling.keda.sh/paused-scale-in"
	// AnnotationPausedScaleOut: when true, no scale out (HPA scaleUp Disabled, no 0->1).
	AnnotationPausedScaleOut = "autoscaling.keda.sh/paused-scale-out"
	// AnnotationForceActivation: when true, the ScaledObject is active whatever its triggers say.
	AnnotationForceActivation = "autoscaling.keda.sh/force-activation"
	// AnnotationTransferHPAOwnership: "true" adopts the existing HPA named in
	// advanced.horizontalPodAutoscalerConfig.name.
	AnnotationTransferHPAOwnership = "scaledobject.keda.sh/transfer-hpa-ownership"
	// AnnotationValidateHPAOwnership: "false" on an HPA skips the ownership check for it.
	AnnotationValidateHPAOwnership = "validations.keda.sh/hpa-ownership"
	// AnnotationHPAExcludedLabels: comma-separated ScaledObject labels not copied to the HPA.
	AnnotationHPAExcludedLabels = "scaledobject.keda.sh/hpa-excluded-labels"
	// AnnotationJobExcludedLabels: comma-separated ScaledJob labels not copied to its Jobs.
	AnnotationJobExcludedLabels = "scaledjob.keda.sh/job-excluded-labels"
	// AnnotationScaledJobGeneration is set on each Job to the ScaledJob generation it was made
	// from, for rollouts.
	AnnotationScaledJobGeneration = "scaledjob.keda.sh/generation"
)

// Labels and the finalizer.
const (
	// LabelScaledObjectName is set on a ScaledObject (to its own name) and is the selector of
	// every external metric in its HPA.
	LabelScaledObjectName = "scaledobject.keda.sh/name"
	// LabelScaledJobName is set on each Job created by a ScaledJob.
	LabelScaledJobName = "scaledjob.keda.sh/name"
	// Finalizer is put on ScaledObjects and ScaledJobs to clean up on deletion.
	Finalizer = "finalizer.keda.sh"
)

// Metric and HPA names.
const (
	// HPANamePrefix precedes the ScaledObject name in the default HPA name.
	HPANamePrefix = "keda-hpa-"
	// CompositeMetricName is the single external metric of a ScaledObject using
	// scalingModifiers; it has no sN- prefix.
	CompositeMetricName = "composite-metric"
	// MaxNameLength is the longest ScaledObject or HPA name KEDA admits (a label value).
	MaxNameLength = 63
)

// HPAName returns the name of the ScaledObject's HPA:
// advanced.horizontalPodAutoscalerConfig.name if set, else keda-hpa-<name>.
func (so *ScaledObject) HPAName() string {
	if a := so.Spec.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil && a.HorizontalPodAutoscalerConfig.Name != "" {
		return a.HorizontalPodAutoscalerConfig.Name
	}
	return HPANamePrefix + so.Name
}

// NormalizeMetricName is KEDA's NormalizeString: it replaces each of / . : % ( ) with '-' and
// changes nothing else (case, underscores, spaces and length are kept).
func NormalizeMetricName(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '/', '.', ':', '%', '(', ')':
			return '-'
		}
		return r
	}, s)
}

// MetricName returns the external metric name of the trigger at index in spec.triggers, given
// the scaler's base name: "s<index>-" followed by the normalized base, e.g.
// MetricName(0, "redis-my.list") is "s0-redis-my-list". External scalers use their name
// unnormalized; they build it with "s"+index+"-" themselves.
func MetricName(index int, base string) string {
	return "s" + strconv.Itoa(index) + "-" + NormalizeMetricName(base)
}

// AnnotationTrue reports whether annotation key is set to a value meaning true, as KEDA reads
// its boolean annotations: present and not parsing as false. "true", "1", "yes" and "" count
// as true; "false", "0", "f" and "FALSE" do not; an absent key does not.
func AnnotationTrue(annotations map[string]string, key string) bool {
	v, ok := annotations[key]
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}
