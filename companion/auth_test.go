package companion

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

func TestResolveSpecReadsTheCallersNamespaceOnly(t *testing.T) {
	kube := fake.NewClientset(
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "creds"}, Data: map[string][]byte{"password": []byte("pw-a")}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b", Name: "creds"}, Data: map[string][]byte{"password": []byte("pw-b")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "conf"}, Data: map[string]string{"host": "redis-a"}},
	)
	spec := &kedav1.TriggerAuthenticationSpec{
		SecretTargetRef:    []kedav1.AuthTargetRef{{Parameter: "password", Name: "creds", Key: "password"}},
		ConfigMapTargetRef: []kedav1.AuthTargetRef{{Parameter: "host", Name: "conf", Key: "host"}},
	}
	p, err := resolveSpec(t.Context(), kube, "team-a", "auth", spec)
	if err != nil {
		t.Fatal(err)
	}
	if p["password"] != "pw-a" || p["host"] != "redis-a" {
		t.Fatalf("params %v", p)
	}
	// team-b has the Secret but not the ConfigMap: nothing of team-a's is used.
	_, err = resolveSpec(t.Context(), kube, "team-b", "auth", spec)
	if err == nil || !strings.Contains(err.Error(), "configMap conf: not found") {
		t.Fatalf("team-b: %v", err)
	}
	spec.SecretTargetRef[0].Key = "missing"
	spec.ConfigMapTargetRef = nil
	if _, err := resolveSpec(t.Context(), kube, "team-a", "auth", spec); err == nil || strings.Contains(err.Error(), "pw-a") {
		t.Fatalf("missing key: %v", err)
	}
	env := &kedav1.TriggerAuthenticationSpec{Env: []kedav1.AuthEnvironment{{Parameter: "password", Name: "PW"}}}
	if _, err := resolveSpec(t.Context(), kube, "team-a", "auth", env); err == nil || !strings.Contains(err.Error(), "spec.env") {
		t.Fatalf("env: %v", err)
	}
}
