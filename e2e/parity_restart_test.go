package e2e

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestParityRestartKeepsIdleAndPause: a gateway that starts again finds a
// target idle at a non-zero idleReplicaCount and a paused one: it makes
// neither an HPA (which would lift the idle one to minReplicaCount, or
// move the paused one) before deciding. Not parallel: it stops the one
// gateway every test uses.
func TestParityRestartKeepsIdleAndPause(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "idler", 1)
	createDeployment(t, ns, "frozen", 3)
	apply(t, ns, fmt.Sprintf(idleSO, "idler", 1))
	apply(t, ns, fmt.Sprintf(pausedSO, "frozen", "other", 1, `autoscaling.keda.sh/paused: "true"`))
	postOK(t, ns, "jobs", `{"value": 0}`)
	waitNoHPA(t, ns, "keda-hpa-idler")
	waitCondition(t, ns, "frozen", kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledObjectPaused)

	if err := stopGateway(); err != nil {
		t.Fatalf("gateway stop: %v", err)
	}
	startGateway()
	if err := waitGatewayReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	holdReplicas(t, ns, "idler", 1)
	if replicas(t, ns, "frozen") != 3 {
		t.Fatal("the paused Deployment moved")
	}
	for _, name := range []string{"keda-hpa-idler", "keda-hpa-frozen"} {
		if getHPA(t, ns, name) != nil {
			t.Fatalf("HPA %s exists after the restart", name)
		}
	}
	// And both still work.
	postOK(t, ns, "jobs", `{"value": 5}`)
	waitReplicas(t, ns, "idler", 2, shortWait)
	annotate(t, ns, "frozen", map[string]*string{kedav1.AnnotationPaused: nil})
	waitHPA(t, ns, "keda-hpa-frozen", "to be back", nil)
}
