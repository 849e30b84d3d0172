package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

const activeCostSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: busy
  labels:
    e2e.pushscale.io/shard: b
spec:
  scaleTargetRef:
    name: busy
  minReplicaCount: 0
  pollingInterval: 1
  cooldownPeriod: 300
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: busy
      targetValue: "2"
`

// TestActiveObjectCostsNoRequestsPerPoll: a ScaledObject that stays
// active at pollingInterval 1 s does not read its target's replicas or
// write its status every second (the HPA owns the count once the target
// is up): over 8 s of activity its gateway (a shard gateway of its own, so
// that the requests counted are this object's) sends at most one /scale
// read and one status write, and the object's resourceVersion moves at
// most once. Before, that was 8 of each.
func TestActiveObjectCostsNoRequestsPerPoll(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "busy", 0)
	opts := startShardGateway(t, ns, shardLabel+"=b")
	apply(t, ns, activeCostSO)
	eventually(t, shortWait, "the ScaledObject to be Ready", func() (bool, error) {
		c := condition(t, ns, "busy", kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("Ready: %+v", c)
	})
	url := fmt.Sprintf("http://%s/v1/namespaces/%s/streams/busy", opts.WebhookAddr, ns)
	eventually(t, shortWait, "the shard gateway to accept a value", func() (bool, error) {
		resp, err := http.Post(url, "application/json", strings.NewReader(`{"value": 1}`))
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusAccepted, fmt.Errorf("POST: %s", resp.Status)
	})
	waitReplicas(t, ns, "busy", 1, shortWait)
	eventually(t, shortWait, "Active=True", func() (bool, error) {
		c := condition(t, ns, "busy", kedav1.ConditionActive)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("Active: %+v", c)
	})
	time.Sleep(2 * time.Second) // the activation's own follow-up settles

	metrics := "http://" + opts.MetricsAddr
	reads0 := kubeRequestsAt(t, metrics, `verb="get"`, `resource="deployments/scale"`)
	writes0 := kubeRequestsAt(t, metrics, `verb="patch"`, `resource="scaledobjects/status"`)
	rv0 := scaledObject(t, ns, "busy").ResourceVersion
	changes := 0
	for range 8 {
		time.Sleep(time.Second)
		if rv := scaledObject(t, ns, "busy").ResourceVersion; rv != rv0 {
			changes, rv0 = changes+1, rv
		}
	}
	reads := kubeRequestsAt(t, metrics, `verb="get"`, `resource="deployments/scale"`) - reads0
	writes := kubeRequestsAt(t, metrics, `verb="patch"`, `resource="scaledobjects/status"`) - writes0
	if reads > 1 || writes > 1 || changes > 1 {
		t.Fatalf("over 8 s active at pollingInterval 1 s: %g /scale reads, %g status writes, resourceVersion changed %d times; want at most 1 each", reads, writes, changes)
	}
	if c := condition(t, ns, "busy", kedav1.ConditionActive); c.Status != metav1.ConditionTrue {
		t.Fatalf("Active: %+v", c)
	}
}
