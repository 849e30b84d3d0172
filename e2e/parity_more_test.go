package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// cooldownSO is a webhook ScaledObject that may scale to zero, with the
// given spec lines (cooldownPeriod, initialCooldownPeriod) after the
// stream's.
const cooldownSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  minReplicaCount: 0
  maxReplicaCount: 5
  %[3]s
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: %[2]s
      targetValue: "2"
`

// TestParityInitialCooldown: a new ScaledObject whose triggers were never
// active scales its target to 0 only initialCooldownPeriod after its
// creation (Active=False ScalerCooldown meanwhile); without it, at once.
func TestParityInitialCooldown(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "warm", 2)
	createDeployment(t, ns, "cold", 2)
	const initial = 20 * time.Second
	created := time.Now()
	apply(t, ns, fmt.Sprintf(cooldownSO, "warm", "idle-w", "cooldownPeriod: 1\n  initialCooldownPeriod: 20"))
	apply(t, ns, fmt.Sprintf(cooldownSO, "cold", "idle-c", "cooldownPeriod: 1"))

	waitReplicas(t, ns, "cold", 0, shortWait)
	waitCondition(t, ns, "warm", kedav1.ConditionActive, metav1.ConditionFalse, kedav1.ReasonScalerCooldown)
	// The HPA may take it from 2 to its minReplicas 1 meanwhile; 0 is the
	// activator's, and only after the initial cooldown.
	for time.Since(created) < initial-5*time.Second {
		if n := replicas(t, ns, "warm"); n == 0 {
			t.Fatalf("scaled to 0 %s after creation, before initialCooldownPeriod (%s)", time.Since(created).Round(time.Second), initial)
		}
		time.Sleep(200 * time.Millisecond)
	}
	waitReplicas(t, ns, "warm", 0, longWait)
	if d := time.Since(created); d < initial-time.Second {
		t.Fatalf("scaled to 0 after %s, before initialCooldownPeriod (%s)", d, initial)
	}
}

// TestParityFallbackBehaviors: with the Redis server gone past
// failureThreshold, fallback.behavior decides the replicas the HPA is
// given, from the current 3: currentReplicas keeps 3 (fallback.replicas 5
// ignored), currentReplicasIfHigher takes max(3, R), currentReplicasIfLower
// min(3, R), each with an R above and below 3, so that neither static
// (R) nor holding (3) passes for them.
func TestParityFallbackBehaviors(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const password = "fallback-behaviors-pw"
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: password})
	cases := []struct {
		name, behavior string
		replicas, want int32
	}{
		{"current", "currentReplicas", 5, 3},
		{"higher-up", "currentReplicasIfHigher", 4, 4},
		{"higher-keep", "currentReplicasIfHigher", 2, 3},
		{"lower-down", "currentReplicasIfLower", 2, 2},
		{"lower-keep", "currentReplicasIfLower", 4, 3},
	}
	for _, c := range cases {
		createDeployment(t, ns, c.name, 0)
		so := redisScaledObject(c.name, srv.Addr(), password, 1,
			fmt.Sprintf("fallback:\n    failureThreshold: 1\n    replicas: %d\n    behavior: %s", c.replicas, c.behavior))
		apply(t, ns, strings.ReplaceAll(so, "redis-auth", "redis-auth-"+c.name)) // a Secret and TriggerAuthentication each
	}
	if err := srv.Client().RPush(ctx, "jobs", 1, 2, 3, 4, 5, 6).Err(); err != nil { // 6 / listLength 2 = 3
		t.Fatal(err)
	}
	for _, c := range cases {
		waitReplicas(t, ns, c.name, 3, longWait)
	}
	srv.Stop()
	for _, c := range cases {
		waitCondition(t, ns, c.name, kedav1.ConditionFallback, metav1.ConditionTrue, "")
	}
	for _, c := range cases {
		waitReplicas(t, ns, c.name, c.want, longWait)
	}
	// Those at 3 stay there (static would give fallback.replicas).
	for deadline := time.Now().Add(holdFor); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		for _, c := range cases {
			if got := replicas(t, ns, c.name); got != c.want {
				t.Fatalf("%s (%s, replicas %d) went to %d, want %d", c.name, c.behavior, c.replicas, got, c.want)
			}
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		waitCondition(t, ns, c.name, kedav1.ConditionFallback, metav1.ConditionFalse, "")
	}
}

// TestParityHPAExcludedLabels: the ScaledObject's labels are copied to its
// HPA except those scaledobject.keda.sh/hpa-excluded-labels names.
func TestParityHPAExcludedLabels(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "labelled", 0)
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: labelled
  labels:
    team: payments
    argocd.argoproj.io/instance: payments-prod
    internal: "yes"
  annotations:
    scaledobject.keda.sh/hpa-excluded-labels: "argocd.argoproj.io/instance, internal"
spec:
  scaleTargetRef:
    name: labelled
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: labelled
      targetValue: "1"
`)
	waitHPA(t, ns, "keda-hpa-labelled", "to carry the labels that are not excluded", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		_, argo := h.Labels["argocd.argoproj.io/instance"]
		_, internal := h.Labels["internal"]
		return h.Labels["team"] == "payments" && h.Labels["app.kubernetes.io/part-of"] == "labelled" && !argo && !internal
	})
}
