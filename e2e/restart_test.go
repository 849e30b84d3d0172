package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestGatewayRestartKeepsLevels stops the gateway mid-test and starts it
// again: the webhook level is saved in the cluster and restored, so the
// scaled-up Deployment is not scaled to zero and the HPA keeps its metric.
// Not parallel: it stops the one gateway every test uses.
func TestGatewayRestartKeepsLevels(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "steady", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// cooldownPeriod 1 s: a gateway that forgot the level would scale the
	// Deployment to zero within a second of starting.
	apply(t, ns, fmt.Sprintf(webhookSO, "steady", "backlog", 1))
	postOK(t, ns, "backlog", `{"value": 4}`)
	waitReplicas(t, ns, "steady", 2, longWait) // 4 / target 2

	// The level is saved in ns's own document.
	eventually(t, shortWait, "ns's saved levels", func() (bool, error) {
		cm, err := env.kube.CoreV1().ConfigMaps(systemNamespace).Get(ctx, "pushscale-webhook-levels-"+ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return strings.Contains(cm.Data["levels.json"], `"backlog"`) && cm.Labels["pushscale.io/webhook-levels"] == ns, fmt.Errorf("%v %v", cm.Labels, cm.Data)
	})
	// A document nobody can read (here the single document of earlier
	// versions, corrupt) costs its own levels, an Event and a metric,
	// never the start.
	corrupt := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "pushscale-webhook-levels", Namespace: systemNamespace},
		Data:       map[string]string{"levels.json": `[{"Namespace": "x", "Stream"`},
	}
	if _, err := env.kube.CoreV1().ConfigMaps(systemNamespace).Create(ctx, corrupt, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.kube.CoreV1().ConfigMaps(systemNamespace).Delete(context.Background(), corrupt.Name, metav1.DeleteOptions{})
	})

	if err := stopGateway(); err != nil {
		t.Fatalf("gateway stop: %v", err)
	}
	startGateway()
	if err := waitGatewayReady(ctx); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "a WebhookLevelsUnreadable Event", func() (bool, error) {
		evs, err := env.kube.CoreV1().Events(systemNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=pushscale-webhook-levels"})
		if err != nil {
			return false, err
		}
		for _, e := range evs.Items {
			if e.Reason == "WebhookLevelsUnreadable" && e.Type == corev1.EventTypeWarning {
				return true, nil
			}
		}
		return false, fmt.Errorf("%d events", len(evs.Items))
	})
	resp, err := http.Get(fmt.Sprintf("%s/v1/namespaces/%s/streams/backlog", gw.webhook, ns))
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	_, _ = fmt.Fprint(&body, resp.Status)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET level after restart: %s", body.String())
	}
	// Watch for a while: replicas never drop, and the metric still serves 4.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := replicas(t, ns, "steady"); got < 2 {
			t.Fatalf("replicas dropped to %d after the restart", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
	raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, "s0-webhook-backlog").
		Param("labelSelector", "scaledobject.keda.sh/name=steady").DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), `"value":"4"`) {
		t.Fatalf("external metric after restart: %v %s", err, raw)
	}
	// And it still scales: 0 takes it down after the 1 s cooldown.
	postOK(t, ns, "backlog", `{"value": 0}`)
	waitReplicas(t, ns, "steady", 0, longWait)
	// The first save after the start replaces the unreadable legacy
	// document, and ns, without levels now, has no document.
	eventually(t, shortWait, "the legacy and ns's documents deleted", func() (bool, error) {
		_, errLegacy := env.kube.CoreV1().ConfigMaps(systemNamespace).Get(ctx, corrupt.Name, metav1.GetOptions{})
		_, errNS := env.kube.CoreV1().ConfigMaps(systemNamespace).Get(ctx, "pushscale-webhook-levels-"+ns, metav1.GetOptions{})
		return apierrors.IsNotFound(errLegacy) && apierrors.IsNotFound(errNS), fmt.Errorf("legacy: %v, ns: %v", errLegacy, errNS)
	})
}
