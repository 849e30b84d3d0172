package charttest

import (
	"fmt"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// typed gives a Kubernetes type for each built-in kind the chart renders.
// The APIService (kube-aggregator), cert-manager's and the Prometheus
// Operator's kinds have no type here; the e2e test's server-side apply
// checks them.
var typed = map[string]func() any{
	"Namespace":                      func() any { return &corev1.Namespace{} },
	"ServiceAccount":                 func() any { return &corev1.ServiceAccount{} },
	"Service":                        func() any { return &corev1.Service{} },
	"ConfigMap":                      func() any { return &corev1.ConfigMap{} },
	"Deployment":                     func() any { return &appsv1.Deployment{} },
	"PodDisruptionBudget":            func() any { return &policyv1.PodDisruptionBudget{} },
	"NetworkPolicy":                  func() any { return &networkingv1.NetworkPolicy{} },
	"Ingress":                        func() any { return &networkingv1.Ingress{} },
	"ClusterRole":                    func() any { return &rbacv1.ClusterRole{} },
	"ClusterRoleBinding":             func() any { return &rbacv1.ClusterRoleBinding{} },
	"Role":                           func() any { return &rbacv1.Role{} },
	"RoleBinding":                    func() any { return &rbacv1.RoleBinding{} },
	"ValidatingWebhookConfiguration": func() any { return &admissionregistrationv1.ValidatingWebhookConfiguration{} },
	"CustomResourceDefinition":       func() any { return &apiextensionsv1.CustomResourceDefinition{} },
}

// TestObjectsDecodeStrictly decodes every built-in object of the default
// and all-on renders into its Kubernetes type, refusing unknown and
// duplicate fields: a misspelt or misplaced field fails here rather than
// in a cluster.
func TestObjectsDecodeStrictly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"default", nil},
		{"all", readValues(t, "all-values.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRender(t, namespace, tc.values)
			checked := 0
			for _, doc := range splitDocuments([]byte(r.Manifest)) {
				var head struct {
					Kind string `json:"kind"`
				}
				if err := yaml.Unmarshal(doc, &head); err != nil {
					t.Fatal(err)
				}
				newObj, ok := typed[head.Kind]
				if !ok {
					continue
				}
				if err := decodeStrict(doc, newObj()); err != nil {
					t.Errorf("%s: %v", head.Kind, err)
				}
				checked++
			}
			if checked < 15 {
				t.Errorf("only %d objects checked", checked)
			}
		})
	}
}

// decodeStrict decodes as the kube-apiserver's strict field validation
// does: field names match case-sensitively (encoding/json alone would take
// readOnlyRootFileSystem for readOnlyRootFilesystem), and unknown or
// duplicate fields are errors.
func decodeStrict(doc []byte, into any) error {
	data, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return err
	}
	strict, err := kjson.UnmarshalStrict(data, into, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("%v", strict)
	}
	return nil
}

// TestLint runs Helm's chart linter (`helm lint --strict` without the
// command) with default and all-on values: no warning, no error.
func TestLint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"default", nil},
		{"all", readValues(t, "all-values.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			result := lint.RunAll(chartPath, tc.values, namespace)
			for _, m := range result.Messages {
				if m.Severity >= support.WarningSev {
					t.Error(m.Error())
				} else {
					t.Log(m.Error())
				}
			}
		})
	}
}
