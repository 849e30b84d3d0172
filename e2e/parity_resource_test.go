package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestParityCPUMemoryTriggers: cpu and memory triggers become the HPA's
// Resource and ContainerResource metrics (there is no metrics-server here:
// only the HPA's spec is checked), sorted by source type as KEDA sorts
// them, and are listed in status.resourceMetricNames; the external trigger
// keeps its index in its metric name.
func TestParityCPUMemoryTriggers(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "mixed", 0)
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: mixed
spec:
  scaleTargetRef:
    name: mixed
  triggers:
  - type: cpu
    metricType: Utilization
    metadata:
      value: "60"
  - type: memory
    metricType: AverageValue
    metadata:
      value: "512Mi"
      containerName: app
  - type: webhook
    metadata:
      stream: jobs
      targetValue: "2"
`)
	waitCondition(t, ns, "mixed", kedav1.ConditionReady, metav1.ConditionTrue, "")
	h := waitHPA(t, ns, "keda-hpa-mixed", "with three metrics", func(h *autoscalingv2.HorizontalPodAutoscaler) bool { return len(h.Spec.Metrics) == 3 })
	m := h.Spec.Metrics
	if m[0].Type != autoscalingv2.ContainerResourceMetricSourceType || m[1].Type != autoscalingv2.ExternalMetricSourceType || m[2].Type != autoscalingv2.ResourceMetricSourceType {
		t.Fatalf("metric order %s, %s, %s", m[0].Type, m[1].Type, m[2].Type)
	}
	if c := m[0].ContainerResource; c.Name != "memory" || c.Container != "app" || c.Target.Type != autoscalingv2.AverageValueMetricType || c.Target.AverageValue.String() != "512Mi" {
		t.Errorf("memory metric %+v", c)
	}
	if e := m[1].External; e.Metric.Name != "s2-webhook-jobs" {
		t.Errorf("external metric %+v", e)
	}
	if r := m[2].Resource; r.Name != "cpu" || r.Target.Type != autoscalingv2.UtilizationMetricType || *r.Target.AverageUtilization != 60 {
		t.Errorf("cpu metric %+v", r)
	}
	eventually(t, shortWait, "status metric names", func() (bool, error) {
		st := scaledObject(t, ns, "mixed").Status
		return slices.Equal(st.ResourceMetricNames, []string{"cpu", "memory"}) && slices.Equal(st.ExternalMetricNames, []string{"s2-webhook-jobs"}),
			fmt.Errorf("resource %v external %v", st.ResourceMetricNames, st.ExternalMetricNames)
	})
	// cpu and memory do not make it active: the webhook trigger does.
	postOK(t, ns, "jobs", `{"value": 0}`)
	waitCondition(t, ns, "mixed", kedav1.ConditionActive, metav1.ConditionFalse, "")
	holdReplicas(t, ns, "mixed", 0)
	postOK(t, ns, "jobs", `{"value": 1}`)
	waitReplicas(t, ns, "mixed", 1, shortWait)
}

// TestParityCPUOnly: a ScaledObject with only a cpu trigger is always
// active (its minReplicaCount must be at least 1), and one with
// minReplicaCount 0 is refused.
func TestParityCPUOnly(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "cpuonly", 0)
	createDeployment(t, ns, "tozero", 1)
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: cpuonly
spec:
  scaleTargetRef:
    name: cpuonly
  minReplicaCount: 1
  maxReplicaCount: 4
  triggers:
  - type: cpu
    metricType: AverageValue
    metadata:
      value: "250m"
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: tozero
spec:
  scaleTargetRef:
    name: tozero
  triggers:
  - type: memory
    metadata:
      value: "70"
`)
	waitCondition(t, ns, "cpuonly", kedav1.ConditionReady, metav1.ConditionTrue, "")
	waitCondition(t, ns, "cpuonly", kedav1.ConditionActive, metav1.ConditionTrue, kedav1.ReasonScalerActive)
	waitReplicas(t, ns, "cpuonly", 1, shortWait)
	h := waitHPA(t, ns, "keda-hpa-cpuonly", "to exist", nil)
	if r := h.Spec.Metrics[0].Resource; len(h.Spec.Metrics) != 1 || r == nil || r.Target.AverageValue.String() != "250m" || *h.Spec.MinReplicas != 1 {
		t.Fatalf("HPA spec %+v", h.Spec)
	}
	c := waitCondition(t, ns, "tozero", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, "minReplicaCount") {
		t.Errorf("Ready message %q", c.Message)
	}
	if getHPA(t, ns, "keda-hpa-tozero") != nil {
		t.Fatal("the refused ScaledObject has an HPA")
	}
}
