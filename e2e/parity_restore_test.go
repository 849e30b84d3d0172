package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

const restoreSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
%[2]s
spec:
  scaleTargetRef:
    name: %[1]s
  cooldownPeriod: 1
  advanced:
    restoreToOriginalReplicaCount: %[3]v
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: jobs
      targetValue: "2"
`

func waitFinalizers(t *testing.T, ns, name string, want bool) {
	t.Helper()
	eventually(t, shortWait, fmt.Sprintf("finalizer %s on %s: %v", kedav1.Finalizer, name, want), func() (bool, error) {
		f := scaledObject(t, ns, name).Finalizers
		return slices.Contains(f, kedav1.Finalizer) == want, fmt.Errorf("finalizers %v", f)
	})
}

func deleteScaledObject(t *testing.T, ns, name string) {
	t.Helper()
	if err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "ScaledObject "+name+" to be gone", func() (bool, error) {
		_, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), fmt.Errorf("%v", err)
	})
}

// TestParityRestoreToOriginalReplicaCount: with
// advanced.restoreToOriginalReplicaCount the ScaledObject carries
// finalizer.keda.sh, and deleting it sets the target back to
// status.originalReplicaCount.
func TestParityRestoreToOriginalReplicaCount(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "restored", 3)
	apply(t, ns, fmt.Sprintf(restoreSO, "restored", "", true))
	waitFinalizers(t, ns, "restored", true)
	postOK(t, ns, "jobs", `{"value": 0}`)
	waitReplicas(t, ns, "restored", 0, shortWait)
	eventually(t, shortWait, "status.originalReplicaCount 3", func() (bool, error) {
		o := scaledObject(t, ns, "restored").Status.OriginalReplicaCount
		return o != nil && *o == 3, fmt.Errorf("%d", deref32(o))
	})
	deleteScaledObject(t, ns, "restored")
	waitReplicas(t, ns, "restored", 3, shortWait)
	waitEvent(t, ns, "restored", "ScaledObjectDeleted", "ScaledObject was deleted")
	holdReplicas(t, ns, "restored", 3)
}

// TestParityNoRestoreWithoutFlag: without the flag there is no finalizer
// (one left by KEDA is removed) and a deletion leaves the replicas as they
// are.
func TestParityNoRestoreWithoutFlag(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "kept", 3)
	apply(t, ns, fmt.Sprintf(restoreSO, "kept", "  finalizers: [finalizer.keda.sh]", false))
	waitFinalizers(t, ns, "kept", false)
	postOK(t, ns, "jobs", `{"value": 0}`)
	waitReplicas(t, ns, "kept", 0, shortWait)
	deleteScaledObject(t, ns, "kept")
	holdReplicas(t, ns, "kept", 0)
}

// TestParityRestoreFlagToggled: setting the flag later adds the finalizer,
// clearing it removes it.
func TestParityRestoreFlagToggled(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "toggled", 2)
	apply(t, ns, fmt.Sprintf(restoreSO, "toggled", "", false))
	waitCondition(t, ns, "toggled", kedav1.ConditionReady, metav1.ConditionTrue, "")
	waitFinalizers(t, ns, "toggled", false)
	patchScaledObject(t, ns, "toggled", map[string]any{"spec": map[string]any{"advanced": map[string]any{"restoreToOriginalReplicaCount": true}}})
	waitFinalizers(t, ns, "toggled", true)
	patchScaledObject(t, ns, "toggled", map[string]any{"spec": map[string]any{"advanced": map[string]any{"restoreToOriginalReplicaCount": false}}})
	waitFinalizers(t, ns, "toggled", false)
}
