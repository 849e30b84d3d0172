package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/pushscale/pushscale/admission"
	"github.com/pushscale/pushscale/certs"
	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/gateway"
)

// TestGatewayManagesCertificates runs a second gateway with
// ManageCertificates and a one-minute certificate lifetime, beside the
// shared one and clashing with none of its names: its own Secret, its own
// namespace, a ValidatingWebhookConfiguration and (briefly) an APIService
// of a group of its own, both created without a caBundle after the
// gateway started. The apiserver calls the admission webhook over TLS
// verified only by the caBundle the gateway injected (an invalid
// ScaledObject is refused with the admission's message), the Secret and
// the served certificate rotate at two thirds of the lifetime, a caBundle
// reset by an apply is patched back, and admission still works.
func TestGatewayManagesCertificates(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	ports, err := controlplane.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}
	secretName, configName := "certs-"+ns, ns+"-certs"
	group := ns + ".certs.pushscale.io"
	apiServiceName := "v1beta1." + group
	var logs syncBuffer
	opts := gateway.Options{
		Kubeconfig:     env.cp.Kubeconfig,
		WebhookAddr:    fmt.Sprintf("127.0.0.1:%d", ports[0]),
		MetricsAddr:    fmt.Sprintf("127.0.0.1:%d", ports[1]),
		MetricsAPIAddr: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		AdmissionAddr:  fmt.Sprintf("127.0.0.1:%d", ports[3]),
		LogLevel:       "info", KubeAPIQPS: 50, KubeAPIBurst: 100,
		RepairInterval: 30 * time.Minute, WebhookSaveInterval: time.Second,
		// Its own namespace, and no ScaledObject to manage: the shared
		// gateway keeps scaling everything.
		ClusterObjectNamespace: ns,
		WatchNamespace:         ns,
		WatchLabelSelector:     "pushscale-e2e-certificates=none",

		ManageCertificates:            true,
		CertificateSecret:             secretName,
		CertificateLifetime:           time.Minute,
		CertificateDNSNames:           []string{"localhost"},
		APIServiceName:                apiServiceName,
		AdmissionWebhookConfiguration: configName,
		WebhookTLS:                    true,
		Logger:                        slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Run(runCtx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("second gateway: %v", err)
			}
		case <-time.After(time.Minute):
			t.Error("second gateway did not stop within a minute")
		}
		if strings.Contains(logs.String(), "PRIVATE KEY") {
			t.Error("key material in the gateway's logs")
		}
		if t.Failed() {
			t.Logf("second gateway's logs:\n%s", logs.String())
		}
	})
	dynClient := dynamic.NewForConfigOrDie(env.cfg)

	// The webhook configuration appears after the start, without a
	// caBundle.
	webhookConfig := func() *admissionregistrationv1.ValidatingWebhookConfiguration {
		fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
		return &admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: configName},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{
				Name:                    "vscaledobject.pushscale.io",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(fmt.Sprintf("https://localhost:%d%s", ports[3], admission.ScaledObjectPath))},
				Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"keda.sh"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"scaledobjects"}}}},
				NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
				FailurePolicy:           &fail,
				SideEffects:             &none,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}
	}
	webhooks := env.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	if _, err := webhooks.Create(ctx, webhookConfig(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = webhooks.Delete(context.Background(), configName, metav1.DeleteOptions{}) })

	secret := func() (*corev1.Secret, *x509.Certificate) {
		s, err := env.kube.CoreV1().Secrets(ns).Get(ctx, secretName, metav1.GetOptions{})
		if err != nil {
			return nil, nil
		}
		block, _ := pem.Decode(s.Data[certs.KeyCert])
		if block == nil {
			return s, nil
		}
		c, _ := x509.ParseCertificate(block.Bytes)
		return s, c
	}
	// served dials addr verifying with the Secret's CA as the apiserver
	// does, and returns the serving certificate's serial.
	served := func(addr string) (string, error) {
		s, _ := secret()
		if s == nil {
			return "", fmt.Errorf("no Secret yet")
		}
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(s.Data[certs.KeyCA])
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			return "", err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
	}
	caBundles := func() (apiBundle, webhookBundle []byte) {
		if u, err := dynClient.Resource(certs.APIServiceResource).Get(ctx, apiServiceName, metav1.GetOptions{}); err == nil {
			s, _, _ := unstructured.NestedString(u.Object, "spec", "caBundle")
			apiBundle, _ = base64.StdEncoding.DecodeString(s)
		}
		if c, err := webhooks.Get(ctx, configName, metav1.GetOptions{}); err == nil {
			webhookBundle = c.Webhooks[0].ClientConfig.CABundle
		}
		return apiBundle, webhookBundle
	}
	injected := func(apiService bool) func() (bool, error) {
		return func() (bool, error) {
			s, _ := secret()
			if s == nil {
				return false, fmt.Errorf("no Secret yet")
			}
			a, w := caBundles()
			if !bytes.Equal(w, s.Data[certs.KeyCA]) || apiService && !bytes.Equal(a, s.Data[certs.KeyCA]) {
				return false, fmt.Errorf("caBundles not the Secret's ca.crt (APIService %d bytes, webhook %d bytes)", len(a), len(w))
			}
			return true, nil
		}
	}
	n := 0
	refused := func() (bool, error) {
		n++
		name := fmt.Sprintf("invalid-%d", n)
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal(fmt.Appendf(nil, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: %[1]s}
spec:
  scaleTargetRef: {name: %[1]s}
  minReplicaCount: 2
  idleReplicaCount: 3
  triggers:
  - type: webhook
    metadata: {allowUnauthenticated: "true", stream: %[1]s, targetValue: "1"}
`, name), &obj.Object); err != nil {
			t.Fatal(err)
		}
		_, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{})
		if err == nil {
			_ = dyn().Resource(resources["ScaledObject"]).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
			return false, fmt.Errorf("admitted")
		}
		return strings.Contains(err.Error(), "spec.idleReplicaCount 3: must be less than minReplicaCount 2"), err
	}

	eventually(t, shortWait, "the CA injected into the webhook configuration", injected(false))
	s, first := secret()
	if s.Type != corev1.SecretTypeTLS || s.Labels[certs.ManagedByLabel] != "pushscale" {
		t.Errorf("Secret type %q labels %v", s.Type, s.Labels)
	}
	eventually(t, shortWait, "the apiserver to call the admission webhook over verified TLS and be refused", refused)
	// An APIService of a group of its own, for as long as it takes to see
	// its caBundle patched: no Service answers its discovery, and an
	// unavailable APIService would trouble other tests' discovery.
	apiSvc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
		"metadata": map[string]any{"name": apiServiceName},
		"spec": map[string]any{
			"group": group, "version": "v1beta1", "groupPriorityMinimum": int64(100), "versionPriority": int64(100),
			"service": map[string]any{"namespace": ns, "name": "pushscale-metrics-api", "port": int64(ports[2])},
		},
	}}
	if _, err := dynClient.Resource(certs.APIServiceResource).Create(ctx, apiSvc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	deleteAPIService := func() {
		_ = dynClient.Resource(certs.APIServiceResource).Delete(context.Background(), apiServiceName, metav1.DeleteOptions{})
	}
	t.Cleanup(deleteAPIService)
	eventually(t, shortWait, "the CA injected into the APIService", injected(true))
	deleteAPIService()

	for _, addr := range []string{opts.AdmissionAddr, opts.WebhookAddr, opts.MetricsAPIAddr} {
		eventually(t, shortWait, "the Secret's certificate served on "+addr, func() (bool, error) {
			serial, err := served(addr)
			return serial == first.SerialNumber.String(), err
		})
	}

	// Rotation is due 40 s after issue (a third of the minute remains).
	var second *x509.Certificate
	eventually(t, longWait, "the certificate rotated in the Secret", func() (bool, error) {
		_, c := secret()
		if c == nil || c.SerialNumber.Cmp(first.SerialNumber) == 0 {
			return false, fmt.Errorf("serial unchanged")
		}
		second = c
		return true, nil
	})
	if !second.NotAfter.After(first.NotAfter) {
		t.Errorf("rotated certificate expires %v, the first %v", second.NotAfter, first.NotAfter)
	}
	for _, addr := range []string{opts.AdmissionAddr, opts.WebhookAddr, opts.MetricsAPIAddr} {
		eventually(t, shortWait, "the rotated certificate served on "+addr+" without a restart", func() (bool, error) {
			serial, err := served(addr)
			if err != nil {
				return false, err
			}
			// A later rotation may already have happened: any serial but
			// the first one that the Secret holds now is right.
			_, now := secret()
			return serial != first.SerialNumber.String() && now != nil && serial == now.SerialNumber.String(), nil
		})
	}

	// An apply of the manifests resets the caBundle: it is patched back,
	// and the apiserver still verifies the rotated certificate.
	cur, err := webhooks.Get(ctx, configName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reset := webhookConfig()
	reset.ResourceVersion = cur.ResourceVersion
	if _, err := webhooks.Update(ctx, reset, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "the caBundle patched back after a reset", injected(false))
	eventually(t, shortWait, "admission after the rotation", refused)
}
