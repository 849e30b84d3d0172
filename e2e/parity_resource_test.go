package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
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
      allowUnauthenticated: "true"
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

// TestParityResourceRequestsRequired: as KEDA's admission check, a cpu
// or memory trigger on a Deployment whose containers declare no request
// for that resource (and get no LimitRange default) is Ready=False with
// KEDA's message and gets no HPA; a LimitRange default satisfies it.
func TestParityResourceRequestsRequired(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"bare", "defaulted"} {
		d := deployment(ns, name, 1)
		d.Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	so := `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %s
spec:
  scaleTargetRef:
    name: %s
  minReplicaCount: 1
  triggers:
  - type: %s
    metricType: Utilization
    metadata:
      value: "60"
`
	apply(t, ns, fmt.Sprintf(so, "bare", "bare", "cpu"))
	c := waitCondition(t, ns, "bare", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if want := "the scaledobject has a cpu trigger but the container app doesn't have the cpu request defined"; c.Message != want {
		t.Errorf("Ready message %q, want %q", c.Message, want)
	}
	if getHPA(t, ns, "keda-hpa-bare") != nil {
		t.Fatal("a ScaledObject refused for missing requests has an HPA")
	}

	lr := &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: "defaults"}, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
		Type: corev1.LimitTypeContainer, DefaultRequest: corev1.ResourceList{corev1.ResourceMemory: mustQuantity("128Mi")}}}}}
	if _, err := env.kube.CoreV1().LimitRanges(ns).Create(ctx, lr, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(so, "defaulted", "defaulted", "memory"))
	waitCondition(t, ns, "defaulted", kedav1.ConditionReady, metav1.ConditionTrue, "")
	waitHPA(t, ns, "keda-hpa-defaulted", "to exist", nil)
}
