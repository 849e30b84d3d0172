package gateway

import (
	"net/http/httptest"
	"testing"
)

func TestRequestInfo(t *testing.T) {
	for _, tc := range []struct {
		name, method, url, verb, resource string
	}{
		{"get a secret", "GET", "/api/v1/namespaces/ns/secrets/auth", "get", "secrets"},
		{"list secrets by name", "GET", "/api/v1/namespaces/ns/secrets?fieldSelector=metadata.name%3Dauth", "list", "secrets"},
		{"watch secrets", "GET", "/api/v1/namespaces/ns/secrets?watch=true&fieldSelector=metadata.name%3Dauth", "watch", "secrets"},
		{"cluster-wide list", "GET", "/apis/keda.sh/v1alpha1/scaledobjects", "list", "scaledobjects"},
		{"status patch", "PATCH", "/apis/keda.sh/v1alpha1/namespaces/ns/scaledobjects/so/status", "patch", "scaledobjects/status"},
		{"scale update", "PUT", "/apis/apps/v1/namespaces/ns/deployments/d/scale", "update", "deployments/scale"},
		{"create an HPA", "POST", "/apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers", "create", "horizontalpodautoscalers"},
		{"get a namespace", "GET", "/api/v1/namespaces/ns", "get", "namespaces"},
		{"cluster object", "DELETE", "/apis/keda.sh/v1alpha1/clustertriggerauthentications/cta", "delete", "clustertriggerauthentications"},
		{"discovery", "GET", "/apis", "list", "other"},
		{"group discovery", "GET", "/apis/apps/v1", "list", "other"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			verb, resource := requestInfo(httptest.NewRequest(tc.method, tc.url, nil))
			if verb != tc.verb || resource != tc.resource {
				t.Fatalf("got %s %s, want %s %s", verb, resource, tc.verb, tc.resource)
			}
		})
	}
}
