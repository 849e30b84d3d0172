package admission

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

const validSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: orders, namespace: shop}
spec:
  scaleTargetRef: {name: orders}
  minReplicaCount: 1
  maxReplicaCount: 5
  triggers:
  - type: webhook
    metadata: {stream: orders, targetValue: "2"}
`

func reviewOf(t *testing.T, kind string, op admissionv1.Operation, manifest string) []byte {
	t.Helper()
	raw, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	r := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID("req-1"),
			Kind:      metav1.GroupVersionKind{Group: "keda.sh", Version: "v1alpha1", Kind: kind},
			Operation: op, Namespace: "shop", Name: "orders",
			Object: runtime.RawExtension{Raw: raw},
		},
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHandler(t *testing.T) {
	cases := []struct {
		name     string
		kind     string
		op       admissionv1.Operation
		manifest string
		denied   string // substring of the refusal; "" when allowed
	}{
		{name: "valid ScaledObject", kind: "ScaledObject", op: admissionv1.Create, manifest: validSO},
		{name: "idle not below min", kind: "ScaledObject", op: admissionv1.Create,
			manifest: strings.Replace(validSO, "minReplicaCount: 1", "minReplicaCount: 1\n  idleReplicaCount: 1", 1),
			denied:   "spec.idleReplicaCount 1: must be less than minReplicaCount 1"},
		{name: "min above max on update", kind: "ScaledObject", op: admissionv1.Update,
			manifest: strings.Replace(validSO, "minReplicaCount: 1", "minReplicaCount: 9", 1), denied: "minReplicaCount"},
		{name: "no triggers", kind: "ScaledObject", op: admissionv1.Create,
			manifest: validSO[:strings.Index(validSO, "  triggers:")], denied: "spec.triggers"},
		{name: "deletes are not checked", kind: "ScaledObject", op: admissionv1.Delete,
			manifest: strings.Replace(validSO, "minReplicaCount: 1", "minReplicaCount: 9", 1)},
		{name: "valid ScaledJob", kind: "ScaledJob", op: admissionv1.Create, manifest: validSJ},
		{name: "ScaledJob trigger with metricType", kind: "ScaledJob", op: admissionv1.Update,
			manifest: validSJ + "    metricType: Value\n", denied: `spec.triggers[0].metricType "Value": must not be set in ScaledJob triggers`},
		{name: "ScaledJob without jobTargetRef", kind: "ScaledJob", op: admissionv1.Create, manifest: "{}", denied: "spec.jobTargetRef"},
		{name: "other kinds are not checked", kind: "TriggerAuthentication", op: admissionv1.Create, manifest: "{}"},
	}
	srv := httptest.NewServer(Handler{})
	defer srv.Close()
	for _, tc := range cases {
		path := ScaledObjectPath
		if tc.kind == "ScaledJob" {
			path = ScaledJobPath
		}
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(reviewOf(t, tc.kind, tc.op, tc.manifest)))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out admissionv1.AdmissionReview
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatalf("status %s: %v", resp.Status, err)
			}
			if out.Response == nil || out.Response.UID != "req-1" || out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
				t.Fatalf("malformed answer %+v", out)
			}
			switch {
			case tc.denied == "" && !out.Response.Allowed:
				t.Fatalf("refused: %+v", out.Response.Result)
			case tc.denied != "" && out.Response.Allowed:
				t.Fatal("allowed, want refused")
			case tc.denied != "" && !strings.Contains(out.Response.Result.Message, tc.denied):
				t.Fatalf("refused with %q, want it to name %q", out.Response.Result.Message, tc.denied)
			}
		})
	}
}

const validSJ = `
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: sj
spec:
  jobTargetRef:
    template:
      spec:
        containers:
        - name: c
          image: busybox
  triggers:
  - type: webhook
    metadata:
      stream: s
`

func TestHandlerRejectsGarbage(t *testing.T) {
	for name, body := range map[string]string{"not JSON": "nope", "no request": `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`} {
		t.Run(name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Handler{}.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ScaledObjectPath, strings.NewReader(body)))
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", rec.Code)
			}
		})
	}
}

// TestReviewedHook: every checked create and update is reported with its
// kind, namespace and action; deletes and other kinds are not.
func TestReviewedHook(t *testing.T) {
	var got []string
	h := Handler{Reviewed: func(kind, namespace, action string) { got = append(got, kind+" "+namespace+" "+action) }}
	for _, op := range []admissionv1.Operation{admissionv1.Create, admissionv1.Update, admissionv1.Delete} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ScaledObjectPath, bytes.NewReader(reviewOf(t, "ScaledObject", op, validSO))))
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ScaledJobPath, bytes.NewReader(reviewOf(t, "TriggerAuthentication", admissionv1.Create, "{}"))))
	want := []string{"ScaledObject shop create", "ScaledObject shop update"}
	if strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("reviewed %q, want %q", got, want)
	}
}
