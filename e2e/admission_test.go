package e2e

import (
	"context"
	"encoding/pem"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/pushscale/pushscale/admission"
)

// TestAdmissionWebhook registers the admission handler with the apiserver
// (for this test's namespace only, failurePolicy Fail so the test is
// deterministic) and applies ScaledObjects and ScaledJobs through it: an
// invalid one is refused with the controller's message, a valid one is
// admitted.
func TestAdmissionWebhook(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := httptest.NewTLSServer(admission.Handler{})
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	fail, none := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: ns},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "vscaledobject.pushscale.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(srv.URL + admission.ScaledObjectPath), CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"keda.sh"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"scaledobjects"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}, {
			Name:                    "vscaledjob.pushscale.io",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To(srv.URL + admission.ScaledJobPath), CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"keda.sh"}, APIVersions: []string{"v1alpha1"}, Resources: []string{"scaledjobs"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := env.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})

	create := func(name, extra string) error {
		manifest := fmt.Sprintf(`
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: %[1]s}
spec:
  scaleTargetRef: {name: %[1]s}
  minReplicaCount: 2
  maxReplicaCount: 5
  %[2]s
  triggers:
  - type: webhook
    metadata: {allowUnauthenticated: "true", stream: %[1]s, targetValue: "1"}
`, name, extra)
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
			t.Fatal(err)
		}
		_, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{})
		return err
	}
	// The apiserver picks the configuration up asynchronously.
	eventually(t, shortWait, "the webhook to refuse idleReplicaCount 3 with minReplicaCount 2", func() (bool, error) {
		err := create("invalid", "idleReplicaCount: 3")
		if err == nil {
			_ = dyn().Resource(resources["ScaledObject"]).Namespace(ns).Delete(ctx, "invalid", metav1.DeleteOptions{})
			return false, fmt.Errorf("admitted")
		}
		return strings.Contains(err.Error(), "spec.idleReplicaCount 3: must be less than minReplicaCount 2"), err
	})
	if err := create("valid", "idleReplicaCount: 0"); err != nil {
		t.Fatalf("a valid ScaledObject was refused: %v", err)
	}

	// ScaledJobs: KEDA's checks, on its ScaledJob path.
	createSJ := func(name, trigger string) error {
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(fmt.Sprintf(webhookSJ, name, name, 5, "")+trigger), &obj.Object); err != nil {
			t.Fatal(err)
		}
		_, err := dyn().Resource(resources["ScaledJob"]).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{})
		return err
	}
	eventually(t, shortWait, "the webhook to refuse a ScaledJob trigger with metricType", func() (bool, error) {
		err := createSJ("invalid-sj", "    metricType: Value\n")
		if err == nil {
			_ = dyn().Resource(resources["ScaledJob"]).Namespace(ns).Delete(ctx, "invalid-sj", metav1.DeleteOptions{})
			return false, fmt.Errorf("admitted")
		}
		return strings.Contains(err.Error(), `spec.triggers[0].metricType "Value": must not be set in ScaledJob triggers`), err
	})
	if err := createSJ("valid-sj", ""); err != nil {
		t.Fatalf("a valid ScaledJob was refused: %v", err)
	}
}
