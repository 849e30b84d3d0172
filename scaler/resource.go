package scaler

import (
	"fmt"
	"strconv"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// isResourceTrigger reports whether a trigger type is one of KEDA's cpu and
// memory triggers: HPA resource metrics, not external ones.
func isResourceTrigger(typ string) bool { return typ == "cpu" || typ == "memory" }

// resourceMetric returns the HPA metric of a cpu or memory trigger, as
// KEDA's cpu_memory scaler makes it: a Resource metric named cpu or memory,
// a ContainerResource one with metadata containerName. The target is
// metadata value, read as a percentage of the requests for Utilization (the
// default), as a quantity for AverageValue. The target type comes from
// trigger.metricType or from the older metadata type, not both.
func resourceMetric(tr kedav1.ScaleTrigger) (autoscalingv2.MetricSpec, error) {
	typ := tr.MetricType
	if old := tr.Metadata["type"]; old != "" {
		if typ != "" {
			return autoscalingv2.MetricSpec{}, fmt.Errorf("%s: metadata type %q and metricType %q: set only metricType", tr.Type, old, typ)
		}
		typ = autoscalingv2.MetricTargetType(old)
	}
	if typ == "" {
		typ = autoscalingv2.UtilizationMetricType
	}
	value := tr.Metadata["value"]
	if value == "" {
		return autoscalingv2.MetricSpec{}, fmt.Errorf("%s: value %q: required", tr.Type, value)
	}
	target := autoscalingv2.MetricTarget{Type: typ}
	switch typ {
	case autoscalingv2.UtilizationMetricType:
		n, err := strconv.ParseInt(value, 10, 32)
		if err != nil || n <= 0 {
			return autoscalingv2.MetricSpec{}, fmt.Errorf("%s: value %q: must be a whole percentage greater than 0 for Utilization", tr.Type, value)
		}
		u := int32(n)
		target.AverageUtilization = &u
	case autoscalingv2.AverageValueMetricType:
		q, err := resource.ParseQuantity(value)
		if err != nil || q.Sign() <= 0 {
			return autoscalingv2.MetricSpec{}, fmt.Errorf("%s: value %q: must be a quantity greater than 0 for AverageValue", tr.Type, value)
		}
		target.AverageValue = &q
	default:
		return autoscalingv2.MetricSpec{}, fmt.Errorf("%s: metricType %q: must be Utilization or AverageValue", tr.Type, typ)
	}
	name := corev1.ResourceName(tr.Type)
	if c := tr.Metadata["containerName"]; c != "" {
		return autoscalingv2.MetricSpec{
			Type:              autoscalingv2.ContainerResourceMetricSourceType,
			ContainerResource: &autoscalingv2.ContainerResourceMetricSource{Name: name, Container: c, Target: target},
		}, nil
	}
	return autoscalingv2.MetricSpec{
		Type:     autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{Name: name, Target: target},
	}, nil
}

// ResourceMetric is resourceMetric for callers outside the controller
// (the test of manifests/samples): the HPA metric of a cpu or memory
// trigger, or the error that makes its object Ready=False.
func ResourceMetric(tr kedav1.ScaleTrigger) (autoscalingv2.MetricSpec, error) {
	return resourceMetric(tr)
}

// ResourceTriggerTypes returns the trigger types that are HPA resource
// metrics (cpu and memory), served by the controller, not by a source.
func ResourceTriggerTypes() []string { return []string{"cpu", "memory"} }

// resourceMetricName is the name of a resource metric (cpu or memory), for
// status.resourceMetricNames.
func resourceMetricName(m autoscalingv2.MetricSpec) string {
	if m.ContainerResource != nil {
		return string(m.ContainerResource.Name)
	}
	if m.Resource != nil {
		return string(m.Resource.Name)
	}
	return ""
}
