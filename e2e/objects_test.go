package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

var resources = map[string]schema.GroupVersionResource{
	"ScaledObject":          kedav1.SchemeGroupVersion.WithResource("scaledobjects"),
	"ScaledJob":             kedav1.SchemeGroupVersion.WithResource("scaledjobs"),
	"TriggerAuthentication": kedav1.SchemeGroupVersion.WithResource("triggerauthentications"),
	"Secret":                {Version: "v1", Resource: "secrets"},
	"ConfigMap":             {Version: "v1", Resource: "configmaps"},
	"Deployment":            {Group: "apps", Version: "v1", Resource: "deployments"},
}

func dyn() dynamic.Interface { return dynamic.NewForConfigOrDie(env.cfg) }

// apply creates the objects of a multi-document YAML manifest in ns, as a
// user would write them (KEDA's documented shapes).
func apply(t *testing.T, ns, manifest string) {
	t.Helper()
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var obj unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("manifest: %v\n%s", err, doc)
		}
		gvr, ok := resources[obj.GetKind()]
		if !ok {
			t.Fatalf("apply: unknown kind %q", obj.GetKind())
		}
		obj.SetNamespace(ns)
		if _, err := dyn().Resource(gvr).Namespace(ns).Create(context.Background(), &obj, metav1.CreateOptions{}); err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}

// scaledObject returns the ScaledObject ns/name.
func scaledObject(t *testing.T, ns, name string) *kedav1.ScaledObject {
	t.Helper()
	u, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ScaledObject %s/%s: %v", ns, name, err)
	}
	var so kedav1.ScaledObject
	data, _ := json.Marshal(u.Object)
	if err := json.Unmarshal(data, &so); err != nil {
		t.Fatal(err)
	}
	return &so
}

// condition returns the condition of type typ of ScaledObject ns/name.
func condition(t *testing.T, ns, name string, typ kedav1.ConditionType) kedav1.Condition {
	t.Helper()
	c, _ := scaledObject(t, ns, name).Status.Conditions.GetCondition(typ)
	return c
}

// replicas returns spec.replicas of Deployment ns/name.
func replicas(t *testing.T, ns, name string) int32 {
	t.Helper()
	d, err := env.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get deployment %s/%s: %v", ns, name, err)
	}
	return *d.Spec.Replicas
}

// waitReplicas waits until Deployment ns/name has spec.replicas == want.
func waitReplicas(t *testing.T, ns, name string, want int32, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("deployment %s to have %d replicas", name, want), func() (bool, error) {
		got := replicas(t, ns, name)
		return got == want, fmt.Errorf("spec.replicas is %d", got)
	})
}

// post sends body to a stream of the gateway's webhook API.
func post(t *testing.T, ns, stream, contentType, body string, headers ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/v1/namespaces/%s/streams/%s", gw.webhook, ns, stream), bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// postOK posts a JSON body and fails t unless the gateway accepts it.
func postOK(t *testing.T, ns, stream, body string, headers ...string) {
	t.Helper()
	// 404 is documented as retryable: the gateway may not have seen the
	// ScaledObject yet. A request without a credential gets 401 instead
	// for a stream the gateway does not watch (yet): so does any stream
	// that is not open, so that existence is not revealed.
	credential := false
	for i := 0; i+1 < len(headers); i += 2 {
		credential = credential || headers[i] == "Authorization" || strings.Contains(strings.ToLower(headers[i]), "signature")
	}
	eventually(t, shortWait, "the stream "+stream+" to accept "+body, func() (bool, error) {
		code, resp := post(t, ns, stream, "application/json", body, headers...)
		if code == http.StatusNotFound || code == http.StatusUnauthorized && !credential {
			return false, fmt.Errorf("%d: %s", code, resp)
		}
		if code != http.StatusAccepted {
			t.Fatalf("POST %s: %d %s", body, code, resp)
		}
		return true, nil
	})
}
