package e2e

import (
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestParityForceActivation: autoscaling.keda.sh/force-activation wakes the
// target with no trigger value at all, says so in the Event and the Active
// condition, and keeps it up; removed, the object follows its triggers.
func TestParityForceActivation(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "forced", 0)
	apply(t, ns, fmt.Sprintf(pausedSO, "forced", "jobs", 1, `autoscaling.keda.sh/force-activation: "true"`))
	waitReplicas(t, ns, "forced", 1, shortWait)
	msg := waitEvent(t, ns, "forced", "KEDAScaleTargetActivated", "caused by forced activation annotation")
	t.Logf("event: %s", msg)
	c := waitCondition(t, ns, "forced", kedav1.ConditionActive, metav1.ConditionTrue, kedav1.ReasonScalerActive)
	if c.Message != "Scaling is performed because activation is being forced by annotation" {
		t.Errorf("Active message %q", c.Message)
	}
	// An inactive value past the 1 s cooldown does not scale it in.
	postOK(t, ns, "jobs", `{"value": 0}`)
	holdReplicas(t, ns, "forced", 1)

	annotate(t, ns, "forced", map[string]*string{kedav1.AnnotationForceActivation: nil})
	waitReplicas(t, ns, "forced", 0, shortWait)
	waitCondition(t, ns, "forced", kedav1.ConditionActive, metav1.ConditionFalse, "")
}
