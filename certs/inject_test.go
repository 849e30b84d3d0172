package certs

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	dynamicfake "k8s.io/client-go/dynamic/fake"
)

func apiService(name string, caBundle []byte) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"group": "external.metrics.k8s.io", "version": "v1beta1",
			"service": map[string]any{"name": "pushscale-metrics-api", "namespace": testNS},
		},
	}}
	if caBundle != nil {
		_ = unstructured.SetNestedField(u.Object, base64.StdEncoding.EncodeToString(caBundle), "spec", "caBundle")
	}
	return u
}

func webhookConfig(name string) *admissionregistrationv1.ValidatingWebhookConfiguration {
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{
			{Name: "vscaledobject.pushscale.io"},
			{Name: "vscaledjob.pushscale.io", ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: []byte("stale")}},
		},
	}
}

// poll waits up to 10 s for cond.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestInjectsCABundle runs a Manager against an APIService that exists
// (another one beside it must be left alone), a ValidatingWebhookConfiguration
// that appears later, and resets of both, as kubectl apply or a Helm
// upgrade would do them.
func TestInjectsCABundle(t *testing.T) {
	kube := newFakeKube()
	scheme := runtime.NewScheme()
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(scheme,
		map[schema.GroupVersionResource]string{APIServiceResource: "APIServiceList"},
		apiService("v1beta1.external.metrics.k8s.io", nil), apiService("v1beta1.other.example", []byte("theirs")))
	h := NewHolder("test")
	m, err := New(Options{
		Kube: kube, Dynamic: dyn, Namespace: testNS, SecretName: "pushscale-certificates",
		Lifetime: time.Hour, DNSNames: DefaultDNSNames(testNS), Holder: h,
		APIServiceName: "v1beta1.external.metrics.k8s.io", WebhookConfigurationName: "pushscale",
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start: %v", err)
		}
	}()

	ca := func() []byte {
		s, err := kube.CoreV1().Secrets(testNS).Get(ctx, "pushscale-certificates", metav1.GetOptions{})
		if err != nil {
			return nil
		}
		return s.Data[KeyCA]
	}
	apiCABundle := func(name string) []byte {
		u, err := dyn.Resource(APIServiceResource).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil
		}
		s, _, _ := unstructured.NestedString(u.Object, "spec", "caBundle")
		b, _ := base64.StdEncoding.DecodeString(s)
		return b
	}
	webhookCABundles := func() [][]byte {
		c, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, "pushscale", metav1.GetOptions{})
		if err != nil {
			return nil
		}
		var out [][]byte
		for _, w := range c.Webhooks {
			out = append(out, w.ClientConfig.CABundle)
		}
		return out
	}
	allEqual := func(bs [][]byte, want []byte) bool {
		for _, b := range bs {
			if !bytes.Equal(b, want) {
				return false
			}
		}
		return len(bs) > 0
	}

	poll(t, "the APIService's caBundle", func() bool {
		c := ca()
		return c != nil && bytes.Equal(apiCABundle("v1beta1.external.metrics.k8s.io"), c)
	})
	if got := string(apiCABundle("v1beta1.other.example")); got != "theirs" {
		t.Errorf("another APIService was patched: caBundle %q", got)
	}

	// The webhook configuration appears after the start.
	if _, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, webhookConfig("pushscale"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "every webhook's caBundle", func() bool { return allEqual(webhookCABundles(), ca()) })

	// Reset both, as an apply of the manifests would.
	if _, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, webhookConfig("pushscale"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(APIServiceResource).Update(ctx, apiService("v1beta1.external.metrics.k8s.io", nil), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	poll(t, "both caBundles patched back", func() bool {
		return allEqual(webhookCABundles(), ca()) && bytes.Equal(apiCABundle("v1beta1.external.metrics.k8s.io"), ca())
	})
}
