package e2e

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/gateway"
)

const (
	// shardLabel splits ScaledObjects between the shared gateway and the
	// one TestLabelSelector starts.
	shardLabel            = "e2e.pushscale.io/shard"
	sharedGatewaySelector = shardLabel + " notin (b)"
)

const shardedSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
  labels:
    e2e.pushscale.io/shard: b
spec:
  scaleTargetRef:
    name: %[1]s
  cooldownPeriod: 300
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: %[1]s
      targetValue: "2"
`

// TestLabelSelector: the shared gateway runs with --watch-label-selector
// "e2e.pushscale.io/shard notin (b)". A ScaledObject of shard b is
// untouched by it (no HPA, no status, no finalizer) while one without the
// label is handled. A second gateway selecting shard b takes the first;
// relabelled out of shard b it moves to the shared gateway, which then
// scales it, and its HPA (the same object) stays throughout.
func TestLabelSelector(t *testing.T) {
	ns := newNamespace(t)
	createDeployment(t, ns, "sharded", 0)
	createDeployment(t, ns, "unsharded", 0)
	apply(t, ns, fmt.Sprintf(shardedSO, "sharded"))
	apply(t, ns, fmt.Sprintf(webhookSO, "unsharded", "unsharded", 300))

	waitCondition(t, ns, "unsharded", kedav1.ConditionReady, metav1.ConditionTrue, kedav1.ReasonScaledObjectReady)
	waitHPA(t, ns, "keda-hpa-unsharded", "made by the shared gateway", nil)
	// The shared gateway reconciled a later object; give it holdFor more
	// to (wrongly) touch the sharded one.
	deadline := time.Now().Add(holdFor)
	for time.Now().Before(deadline) {
		if h := getHPA(t, ns, "keda-hpa-sharded"); h != nil {
			t.Fatalf("the shared gateway made HPA %s for a ScaledObject outside its selector", h.Name)
		}
		so := scaledObject(t, ns, "sharded")
		if len(so.Status.Conditions) > 0 || so.Status.HpaName != "" || len(so.Finalizers) > 0 {
			t.Fatalf("the shared gateway touched a ScaledObject outside its selector: status %+v finalizers %v", so.Status, so.Finalizers)
		}
		time.Sleep(200 * time.Millisecond)
	}

	startShardGateway(t, ns, shardLabel+"=b")
	uid := waitHPA(t, ns, "keda-hpa-sharded", "made by the shard-b gateway", nil).UID
	waitCondition(t, ns, "sharded", kedav1.ConditionReady, metav1.ConditionTrue, kedav1.ReasonScaledObjectReady)

	// Out of shard b: the shard-b gateway forgets it without deleting its
	// HPA; the shared gateway selects it now and scales it on a POST.
	patchScaledObject(t, ns, "sharded", map[string]any{"metadata": map[string]any{"labels": map[string]any{shardLabel: nil}}})
	postOK(t, ns, "sharded", `{"value": 1}`)
	waitReplicas(t, ns, "sharded", 1, shortWait)
	deadline = time.Now().Add(holdFor)
	for time.Now().Before(deadline) {
		if h := getHPA(t, ns, "keda-hpa-sharded"); h == nil || h.UID != uid {
			t.Fatal("the HPA was deleted (or replaced) when the ScaledObject moved between shards")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startShardGateway runs a second gateway limited to namespace ns and
// selector until t ends, and returns its options (its addresses). It
// serves no external metrics through the aggregator (the shared gateway
// does) and keeps its webhook levels in ns.
func startShardGateway(t *testing.T, ns, selector string) gateway.Options {
	t.Helper()
	ports, err := controlplane.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	opts := gw.opts
	opts.WebhookAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	opts.MetricsAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	opts.MetricsAPIAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	opts.WatchNamespace, opts.WatchLabelSelector, opts.ClusterObjectNamespace = ns, selector, ns
	opts.Logger = opts.Logger.With("gateway", "shard")
	runExtraGateway(t, "shard gateway", opts)
	return opts
}
