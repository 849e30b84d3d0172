package e2e

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

const webhookSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  minReplicaCount: 0
  maxReplicaCount: 5
  cooldownPeriod: %[3]d
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: %[2]s
      targetValue: "2"
`

// TestWebhookScalesZeroToNAndBack is the core path: a POST wakes the
// Deployment from 0 at once, a higher value makes kube-controller-manager's
// HPA scale 1→N from our external metric (through the aggregator), and 0
// returns it to 0 after cooldownPeriod.
func TestWebhookScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "worker", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(webhookSO, "worker", "jobs", 5))
	eventually(t, shortWait, "the ScaledObject to be Ready", func() (bool, error) {
		c := condition(t, ns, "worker", kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("Ready: %+v", c)
	})
	eventually(t, shortWait, "PushHealthy=True (Subscribed)", func() (bool, error) {
		c := condition(t, ns, "worker", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionTrue && c.Reason == kedav1.ReasonSubscribed, fmt.Errorf("PushHealthy: %+v", c)
	})
	so := scaledObject(t, ns, "worker")
	if so.Status.HpaName != "keda-hpa-worker" || len(so.Status.ExternalMetricNames) != 1 || so.Status.ExternalMetricNames[0] != "s0-webhook-jobs" {
		t.Fatalf("status: hpaName %q externalMetricNames %v", so.Status.HpaName, so.Status.ExternalMetricNames)
	}
	hpa, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "keda-hpa-worker", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if m := hpa.Spec.Metrics[0].External; m == nil || m.Metric.Name != "s0-webhook-jobs" ||
		m.Metric.Selector.MatchLabels[kedav1.LabelScaledObjectName] != "worker" || *hpa.Spec.MinReplicas != 1 || hpa.Spec.MaxReplicas != 5 {
		t.Fatalf("HPA spec: %+v", hpa.Spec)
	}

	start := time.Now()
	postOK(t, ns, "jobs", `{"value": 1}`)
	waitReplicas(t, ns, "worker", 1, shortWait)
	t.Logf("POST → spec.replicas=1 observed after %s (polling the apiserver every 100 ms; `make bench` measures precisely)", time.Since(start).Round(time.Millisecond))

	// 8 / target 2 = 4 replicas, decided by the HPA from our metric.
	postOK(t, ns, "jobs", `{"value": 8}`)
	waitReplicas(t, ns, "worker", 4, longWait)
	raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, "s0-webhook-jobs").
		Param("labelSelector", "scaledobject.keda.sh/name=worker").DoRaw(ctx)
	if err != nil || !strings.Contains(string(raw), `"value":"8"`) {
		t.Fatalf("external metric through the aggregator: %v %s", err, raw)
	}

	postOK(t, ns, "jobs", `{"value": 0}`)
	waitReplicas(t, ns, "worker", 0, longWait)
	// The status follows the /scale write in the same decision.
	eventually(t, shortWait, "Active=False after scale-in", func() (bool, error) {
		c := condition(t, ns, "worker", kedav1.ConditionActive)
		return c.Status == metav1.ConditionFalse, fmt.Errorf("Active: %+v", c)
	})
	events, err := env.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range events.Items {
		reasons = append(reasons, e.Reason)
	}
	if !strings.Contains(strings.Join(reasons, ","), "KEDAScaleTargetActivated") || !strings.Contains(strings.Join(reasons, ","), "KEDAScaleTargetDeactivated") {
		t.Fatalf("events %v lack activation and deactivation", reasons)
	}
}

// TestWebhookCloudEventsWindow: a stream fed only by CloudEvents rises with
// arrivals and falls back to 0 by itself after its window.
func TestWebhookCloudEventsWindow(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "ce", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: ce
spec:
  scaleTargetRef:
    name: ce
  cooldownPeriod: 1
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: orders
      targetValue: "10"
      windowSeconds: "3"
`)
	ce := `{"specversion":"1.0","id":"%d","source":"/shop","type":"order.created"}`
	eventually(t, shortWait, "the stream to exist", func() (bool, error) {
		code, body := post(t, ns, "orders", "application/cloudevents+json", fmt.Sprintf(ce, 0))
		return code == http.StatusAccepted, fmt.Errorf("%d %s", code, body)
	})
	batch := "[" + fmt.Sprintf(ce, 1) + "," + fmt.Sprintf(ce, 2) + "]"
	if code, body := post(t, ns, "orders", "application/cloudevents-batch+json", batch); code != http.StatusAccepted {
		t.Fatalf("batch: %d %s", code, body)
	}
	if code, body := post(t, ns, "orders", "text/plain", "hello", "ce-specversion", "1.0", "ce-id", "3", "ce-source", "/shop", "ce-type", "order.created"); code != http.StatusAccepted || !strings.Contains(body, `"value":4`) {
		t.Fatalf("binary: %d %s", code, body)
	}
	waitReplicas(t, ns, "ce", 1, shortWait)
	// No more events: the window empties and cooldown (1 s) brings it to 0.
	waitReplicas(t, ns, "ce", 0, longWait)
}

// TestWebhookBadMetadataIsIsolated: a ScaledObject with bad metadata gets
// Ready=False naming the field, and a valid one beside it keeps working.
func TestWebhookBadMetadataIsIsolated(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"good", "bad"} {
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: bad
spec:
  scaleTargetRef:
    name: bad
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: Not_A_Valid_Stream
      targetValue: "-3"
`)
	apply(t, ns, fmt.Sprintf(webhookSO, "good", "fine", 300))
	eventually(t, shortWait, "bad to be Ready=False naming the stream field and value", func() (bool, error) {
		c := condition(t, ns, "bad", kedav1.ConditionReady)
		return c.Status == metav1.ConditionFalse && c.Reason == kedav1.ReasonScaledObjectCheckFailed &&
			strings.Contains(c.Message, `stream "Not_A_Valid_Stream"`), fmt.Errorf("Ready: %+v", c)
	})
	postOK(t, ns, "fine", `{"delta": 3}`)
	waitReplicas(t, ns, "good", 1, shortWait)
	if got := replicas(t, ns, "bad"); got != 0 {
		t.Fatalf("the broken ScaledObject's target was touched: %d replicas", got)
	}
	if _, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "keda-hpa-bad", metav1.GetOptions{}); err == nil {
		t.Fatal("an HPA was created for the broken ScaledObject")
	}
}

// TestWebhookErrorsAndAuth exercises the error codes and authentication
// through the running gateway (unit tests cover every case in detail).
func TestWebhookErrorsAndAuth(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "secure", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const token, secret = "s3cr3t-t0ken-value", "hmac-k3y-value"
	apply(t, ns, `
apiVersion: v1
kind: Secret
metadata:
  name: hook
stringData:
  token: `+token+`
  hmac: `+secret+`
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: hook
spec:
  secretTargetRef:
  - parameter: token
    name: hook
    key: token
  - parameter: hmacSecret
    name: hook
    key: hmac
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: secure
spec:
  scaleTargetRef:
    name: secure
  triggers:
  - type: webhook
    metadata:
      stream: signed
      targetValue: "1"
      signatureHeader: X-Hub-Signature-256
    authenticationRef:
      name: hook
`)
	sign := func(body string) string {
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(body))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	body := `{"value": 1}`
	auth := "Bearer " + token
	eventually(t, shortWait, "the signed stream to exist", func() (bool, error) {
		code, _ := post(t, ns, "signed", "application/json", body, "Authorization", auth, "X-Hub-Signature-256", sign(body))
		return code != http.StatusNotFound, nil
	})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	old := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	cases := []struct {
		name, contentType, body string
		headers                 []string
		want                    int
	}{
		{"no credentials", "application/json", body, nil, http.StatusUnauthorized},
		{"wrong token", "application/json", body, []string{"Authorization", "Bearer nope", "X-Hub-Signature-256", sign(body)}, http.StatusUnauthorized},
		{"token without signature", "application/json", body, []string{"Authorization", auth}, http.StatusUnauthorized},
		{"wrong signature", "application/json", body, []string{"Authorization", auth, "X-Hub-Signature-256", sign(`{"value": 2}`)}, http.StatusUnauthorized},
		{"stale timestamp", "application/json", body, []string{"Authorization", auth, "X-Pushscale-Timestamp", old, "X-Hub-Signature-256", sign(old + "." + body)}, http.StatusUnauthorized},
		{"malformed JSON", "application/json", `{"value":`, []string{"Authorization", auth, "X-Hub-Signature-256", sign(`{"value":`)}, http.StatusBadRequest},
		{"both value and delta", "application/json", `{"value":1,"delta":1}`, []string{"Authorization", auth, "X-Hub-Signature-256", sign(`{"value":1,"delta":1}`)}, http.StatusBadRequest},
		{"negative value", "application/json", `{"value":-1}`, []string{"Authorization", auth, "X-Hub-Signature-256", sign(`{"value":-1}`)}, http.StatusBadRequest},
		{"unsupported content type", "text/csv", "1", []string{"Authorization", auth, "X-Hub-Signature-256", sign("1")}, http.StatusUnsupportedMediaType},
		// Every credential the stream needs must be there before the body
		// is looked at (else 401); the size is refused before the MAC is.
		{"body over 1 MiB", "application/json", strings.Repeat(" ", 1<<20+1), []string{"Authorization", auth, "X-Hub-Signature-256", sign("")}, http.StatusRequestEntityTooLarge},
		{"valid with timestamp", "application/json", body, []string{"Authorization", auth, "X-Pushscale-Timestamp", ts, "X-Hub-Signature-256", sign(ts + "." + body)}, http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, resp := post(t, ns, "signed", tc.contentType, tc.body, tc.headers...)
			if code != tc.want {
				t.Fatalf("got %d %s, want %d", code, resp, tc.want)
			}
			if code != http.StatusAccepted && (!strings.Contains(resp, `"error"`) || strings.Contains(resp, token) || strings.Contains(resp, secret)) {
				t.Fatalf("error body %q: want a JSON error without secrets", resp)
			}
		})
	}
	// Authenticated by default: without any credential an unknown stream
	// answers as an authenticated one does (401), so nothing tells which
	// streams exist; with one, 404 (retryable).
	if code, _ := post(t, ns, "nobody-uses-this", "application/json", body); code != http.StatusUnauthorized {
		t.Fatalf("unknown stream, no credential: %d, want 401", code)
	}
	if code, _ := post(t, ns, "nobody-uses-this", "application/json", body, "Authorization", auth); code != http.StatusNotFound {
		t.Fatalf("unknown stream with a credential: %d, want 404", code)
	}
	// The rate limit of this test gateway is 50 events/s per stream.
	limited := false
	for range 200 {
		if code, _ := post(t, ns, "signed", "application/json", body, "Authorization", auth, "X-Hub-Signature-256", sign(body)); code == http.StatusTooManyRequests {
			limited = true
			break
		}
	}
	if !limited {
		t.Fatal("200 quick requests never got 429")
	}
	waitReplicas(t, ns, "secure", 1, shortWait)

	// Secrets stay secret: nowhere in status or events.
	so := scaledObject(t, ns, "secure")
	events, _ := env.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	dump := fmt.Sprintf("%+v %+v", so.Status, events.Items)
	if strings.Contains(dump, token) || strings.Contains(dump, secret) {
		t.Fatal("a secret appears in status or events")
	}
	if logs := gwLogs.String(); strings.Contains(logs, token) || strings.Contains(logs, secret) {
		t.Fatal("a secret appears in the gateway's logs")
	}
}
