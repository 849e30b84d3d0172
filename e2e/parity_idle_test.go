package e2e

import (
	"fmt"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

const idleSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  idleReplicaCount: %[2]d
  minReplicaCount: 2
  maxReplicaCount: 5
  cooldownPeriod: 2
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: jobs
      targetValue: "10"
`

// TestParityIdleReplicaCountWithoutHPAFight: with idleReplicaCount 1 below
// minReplicaCount 2, the HPA would lift an idle target to 2 at once; it is
// set aside while idle and back on activation, so the target stays at 1
// while idle and goes to 2 when active.
func TestParityIdleReplicaCountWithoutHPAFight(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "idler", 1)
	apply(t, ns, fmt.Sprintf(idleSO, "idler", 1))
	postOK(t, ns, "jobs", `{"value": 0}`)
	waitNoHPA(t, ns, "keda-hpa-idler")
	holdReplicas(t, ns, "idler", 1)

	postOK(t, ns, "jobs", `{"value": 5}`)
	waitReplicas(t, ns, "idler", 2, shortWait)
	waitHPA(t, ns, "keda-hpa-idler", "with minReplicas 2", func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
		return *h.Spec.MinReplicas == 2 && h.Spec.MaxReplicas == 5
	})
	if so := scaledObject(t, ns, "idler"); so.Status.HpaName != "keda-hpa-idler" {
		t.Errorf("status.hpaName %q", so.Status.HpaName)
	}

	postOK(t, ns, "jobs", `{"value": 0}`)
	waitReplicas(t, ns, "idler", 1, shortWait)
	waitNoHPA(t, ns, "keda-hpa-idler")
	holdReplicas(t, ns, "idler", 1)
	waitEvent(t, ns, "idler", "KEDAScaleTargetDeactivated", "from 2 to 1")

	// And again: the cycle repeats.
	postOK(t, ns, "jobs", `{"value": 5}`)
	waitReplicas(t, ns, "idler", 2, shortWait)
	waitHPA(t, ns, "keda-hpa-idler", "to be back", nil)
}

// TestParityIdleZeroKeepsHPA: idleReplicaCount 0 keeps the HPA (it does
// nothing at 0 replicas).
func TestParityIdleZeroKeepsHPA(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "zero", 0)
	apply(t, ns, fmt.Sprintf(idleSO, "zero", 0))
	postOK(t, ns, "jobs", `{"value": 5}`)
	waitReplicas(t, ns, "zero", 2, shortWait)
	waitHPA(t, ns, "keda-hpa-zero", "to exist", nil)
	postOK(t, ns, "jobs", `{"value": 0}`)
	waitReplicas(t, ns, "zero", 0, shortWait)
	holdReplicas(t, ns, "zero", 0)
	if getHPA(t, ns, "keda-hpa-zero") == nil {
		t.Fatal("the HPA was deleted at idleReplicaCount 0")
	}
}
