package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestWebhookScalesAnyScaleSubresource: the activator writes /scale, so a
// StatefulSet wakes from 0 like a Deployment.
func TestWebhookScalesAnyScaleSubresource(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	dep := deployment(ns, "db", 0)
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr.To[int32](0), Selector: dep.Spec.Selector, Template: dep.Spec.Template,
		},
	}
	if _, err := env.kube.AppsV1().StatefulSets(ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: db
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: StatefulSet
    name: db
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: queries
      targetValue: "10"
`)
	postOK(t, ns, "queries", `{"value": 3}`)
	eventually(t, shortWait, "the StatefulSet to have 1 replica", func() (bool, error) {
		got, err := env.kube.AppsV1().StatefulSets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return *got.Spec.Replicas == 1, fmt.Errorf("spec.replicas %d", *got.Spec.Replicas)
	})
	// The status follows the /scale write in the same decision.
	eventually(t, shortWait, "status.scaleTargetKind", func() (bool, error) {
		kind := scaledObject(t, ns, "db").Status.ScaleTargetKind
		return kind == "apps/v1.StatefulSet", fmt.Errorf("status.scaleTargetKind %q", kind)
	})
}

// TestWebhookSharedStreamAuthConflict: two ScaledObjects may share a
// stream, but must agree on its authentication. While they do not, both
// are Ready=False naming the conflict, whichever was applied first, and the
// stream accepts nothing; once one is fixed, both are Ready and scale.
func TestWebhookSharedStreamAuthConflict(t *testing.T) {
	for _, order := range [][2]string{{"first", "second"}, {"second", "first"}} {
		t.Run(order[0]+"_applied_first", func(t *testing.T) { sharedStreamConflict(t, order) })
	}
}

func sharedStreamConflict(t *testing.T, order [2]string) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"first", "second"} {
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, ns, `
apiVersion: v1
kind: Secret
metadata:
  name: tokens
stringData:
  a: token-a-value
  b: token-b-value
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: a
spec:
  secretTargetRef:
  - {parameter: token, name: tokens, key: a}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: b
spec:
  secretTargetRef:
  - {parameter: token, name: tokens, key: b}
`)
	// first uses token a, second token b.
	so := func(name, auth string) string {
		return fmt.Sprintf(`
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %s
spec:
  scaleTargetRef: {name: %s}
  triggers:
  - type: webhook
    metadata: {stream: shared, targetValue: "1"}
    authenticationRef: {name: %s}
`, name, name, auth)
	}
	authOf := map[string]string{"first": "a", "second": "b"}
	apply(t, ns, so(order[0], authOf[order[0]]))
	eventually(t, shortWait, order[0]+" to be Ready", func() (bool, error) {
		c := condition(t, ns, order[0], kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	apply(t, ns, so(order[1], authOf[order[1]]))
	for _, name := range []string{"first", "second"} {
		eventually(t, shortWait, name+" to be Ready=False for the conflict", func() (bool, error) {
			c := condition(t, ns, name, kedav1.ConditionReady)
			return c.Status == metav1.ConditionFalse && strings.Contains(c.Message, `"shared"`) &&
				strings.Contains(c.Message, "different authentication"), fmt.Errorf("%+v", c)
		})
		if c := condition(t, ns, name, kedav1.ConditionReady); strings.Contains(c.Message, "token-") {
			t.Fatalf("a token leaks into the condition: %q", c.Message)
		}
	}
	// The stream accepts nothing meanwhile, whatever the credential.
	for _, tok := range []string{"token-a-value", "token-b-value"} {
		if code, body := post(t, ns, "shared", "application/json", `{"value": 1}`, "Authorization", "Bearer "+tok); code == http.StatusAccepted {
			t.Fatalf("a conflicted stream accepted a POST: %d %s", code, body)
		}
	}

	// second is fixed: it takes token a too.
	patch := `{"spec":{"triggers":[{"type":"webhook","metadata":{"stream":"shared","targetValue":"1"},"authenticationRef":{"name":"a"}}]}}`
	if _, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Patch(ctx, "second", types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"first", "second"} {
		eventually(t, shortWait, name+" to be Ready again", func() (bool, error) {
			c := condition(t, ns, name, kedav1.ConditionReady)
			return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
		})
	}
	postOK(t, ns, "shared", `{"value": 1}`, "Authorization", "Bearer token-a-value")
	waitReplicas(t, ns, "first", 1, shortWait)
	waitReplicas(t, ns, "second", 1, shortWait)

	// The gateway's own metrics count what happened.
	resp, err := http.Get(gw.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`pushscale_scale_actions_total{direction="up",namespace="` + ns + `",scaledObject="first"} 1`,
		`pushscale_events_total{reason="ok",result="accepted",source="webhook"}`,
		`pushscale_event_to_scale_seconds_count{source="webhook"}`,
		`keda_scaler_metrics_value{metric="s0-webhook-shared",namespace="` + ns + `",scaledObject="second"`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(body), "token-a-value") {
		t.Error("a token leaks into /metrics")
	}
}

// TestActivationNeverOverridesAManualScale: the activator's write is
// conditional on the replica count it last saw, so a target scaled up by
// someone else meanwhile is not pulled back to 1.
func TestActivationNeverOverridesAManualScale(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "manual", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(webhookSO, "manual", "work", 300))
	postOK(t, ns, "work", `{"value": 0}`)
	eventually(t, shortWait, "the ScaledObject to be Ready", func() (bool, error) {
		c := condition(t, ns, "manual", kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	w, err := env.kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// Scaled by hand to 2, behind the gateway's back.
	sc, err := env.kube.AppsV1().Deployments(ns).GetScale(ctx, "manual", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sc.Spec.Replicas = 2
	if _, err := env.kube.AppsV1().Deployments(ns).UpdateScale(ctx, "manual", sc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// 4 / target 2 = 2: the HPA agrees with the manual size.
	postOK(t, ns, "work", `{"value": 4}`)
	eventually(t, shortWait, "Active=True", func() (bool, error) {
		c := condition(t, ns, "manual", kedav1.ConditionActive)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	// Everything the watch saw: the count must never have been set to 1.
	for {
		select {
		case ev := <-w.ResultChan():
			if d, ok := ev.Object.(*appsv1.Deployment); ok && *d.Spec.Replicas == 1 {
				t.Fatal("the activator pulled a manually scaled target back to 1")
			}
			continue
		default:
		}
		break
	}
	if got := replicas(t, ns, "manual"); got != 2 {
		t.Fatalf("replicas %d, want 2", got)
	}
}

// TestScaleToZeroHoldsAfterAnHPARetry: kube-controller-manager's HPA
// retries a conflicting /scale write by re-reading the Scale and writing its
// desired count again, so the scale-to-zero it raced with is undone (the
// target back at minReplicas 1 while every trigger is idle). The test does
// what that retry does, right after the gateway's write to 0: the gateway
// must notice without any new value and scale to 0 again.
func TestScaleToZeroHoldsAfterAnHPARetry(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "retry", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(webhookSO, "retry", "work", 1))
	postOK(t, ns, "work", `{"value": 1}`)
	waitReplicas(t, ns, "retry", 1, shortWait)

	w, err := env.kube.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=retry"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	postOK(t, ns, "work", `{"value": 0}`)
	deadline := time.After(longWait)
	for zero := false; !zero; {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				t.Fatal("the Deployment watch ended")
			}
			d, isDeployment := ev.Object.(*appsv1.Deployment)
			zero = isDeployment && d.Spec.Replicas != nil && *d.Spec.Replicas == 0
		case <-deadline:
			t.Fatal("the target was never scaled to 0")
		}
	}
	// The HPA's retry: the latest Scale, its desired count written back
	// (on conflict again, as the HPA does).
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sc, err := env.kube.AppsV1().Deployments(ns).GetScale(ctx, "retry", metav1.GetOptions{})
		if err != nil {
			return err
		}
		sc.Spec.Replicas = 1
		_, err = env.kube.AppsV1().Deployments(ns).UpdateScale(ctx, "retry", sc, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "retry", 0, shortWait)
}
