package charttest

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// clusterScoped are the kinds the chart renders without a namespace.
var clusterScoped = map[string]bool{
	"Namespace": true, "CustomResourceDefinition": true, "ClusterRole": true,
	"ClusterRoleBinding": true, "APIService": true, "ValidatingWebhookConfiguration": true,
}

var crdNames = []string{
	"scaledobjects.keda.sh", "scaledjobs.keda.sh",
	"triggerauthentications.keda.sh", "clustertriggerauthentications.keda.sh",
}

// TestRender renders the chart with several sets of values: every document
// is a complete object (apiVersion, kind, metadata.name; a namespace when
// namespaced), no object is rendered twice, and each case's objects are
// there or not.
func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		values  map[string]any
		want    [][2]string // kind, name
		wantNot [][2]string
	}{
		{
			name:   "default",
			values: nil,
			want: [][2]string{
				{"Deployment", "pushscale"}, {"CustomResourceDefinition", "scaledobjects.keda.sh"},
				{"NetworkPolicy", "pushscale"}, {"PodDisruptionBudget", "pushscale"},
			},
			wantNot: [][2]string{
				{"Namespace", namespace}, {"Ingress", "pushscale-webhook"}, {"Certificate", "pushscale-serving"},
				{"ServiceMonitor", "pushscale"}, {"PodMonitor", "pushscale"}, {"PrometheusRule", "pushscale"},
				{"ConfigMap", "pushscale-dashboards"},
			},
		},
		{
			name:   "all",
			values: readValues(t, "all-values.yaml"),
			want: [][2]string{
				{"Namespace", namespace}, {"Ingress", "pushscale-webhook"},
				{"Issuer", "pushscale-selfsigned"}, {"Certificate", "pushscale-ca"}, {"Issuer", "pushscale-ca"},
				{"Certificate", "pushscale-serving"}, {"ServiceMonitor", "pushscale"}, {"PodMonitor", "pushscale"},
				{"PrometheusRule", "pushscale"}, {"CustomResourceDefinition", "scaledjobs.keda.sh"},
			},
		},
		{
			name:    "no CRDs",
			values:  map[string]any{"crds": map[string]any{"install": false}},
			want:    [][2]string{{"Deployment", "pushscale"}},
			wantNot: [][2]string{{"CustomResourceDefinition", "scaledobjects.keda.sh"}},
		},
		{
			name: "no NetworkPolicy nor PodDisruptionBudget",
			values: map[string]any{
				"networkPolicy":       map[string]any{"enabled": false},
				"podDisruptionBudget": map[string]any{"enabled": false},
			},
			wantNot: [][2]string{{"NetworkPolicy", "pushscale"}, {"PodDisruptionBudget", "pushscale"}},
		},
		{
			name: "cert-manager with an existing issuer",
			values: map[string]any{"certificates": map[string]any{"certManager": map[string]any{
				"enabled":   true,
				"issuerRef": map[string]any{"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "corp-ca"},
			}}},
			want:    [][2]string{{"Certificate", "pushscale-serving"}},
			wantNot: [][2]string{{"Issuer", "pushscale-selfsigned"}, {"Certificate", "pushscale-ca"}, {"Issuer", "pushscale-ca"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRender(t, namespace, tc.values)
			checkObjects(t, r)
			for _, w := range tc.want {
				if !r.has(w[0], w[1]) {
					t.Errorf("no %s %s", w[0], w[1])
				}
			}
			for _, w := range tc.wantNot {
				if r.has(w[0], w[1]) {
					t.Errorf("%s %s rendered", w[0], w[1])
				}
			}
		})
	}
}

// checkObjects checks that every object is complete and unique.
func checkObjects(t *testing.T, r *rendering) {
	t.Helper()
	if len(r.Objects) == 0 {
		t.Fatal("nothing rendered")
	}
	seen := map[string]bool{}
	for _, o := range r.Objects {
		if str(o.Obj, "apiVersion") == "" || o.Kind() == "" || o.Name() == "" {
			t.Errorf("%s: an object without apiVersion, kind or metadata.name: %v", o.Source, o.Obj)
			continue
		}
		if clusterScoped[o.Kind()] == (o.Namespace() != "") {
			t.Errorf("%s: %s %s has namespace %q", o.Source, o.Kind(), o.Name(), o.Namespace())
		}
		key := o.Kind() + " " + o.Namespace() + "/" + o.Name()
		if seen[key] {
			t.Errorf("%s rendered twice", key)
		}
		seen[key] = true
		if str(o.Obj, "metadata", "labels", "app.kubernetes.io/name") != "pushscale" {
			if o.Kind() != "CustomResourceDefinition" {
				t.Errorf("%s lacks the label app.kubernetes.io/name: pushscale", key)
			}
		}
	}
}

// TestCRDsKeptAndSwitchable: the CRDs are templates with
// helm.sh/resource-policy: keep (an uninstall never deletes them), rendered
// only with crds.install.
func TestCRDsKeptAndSwitchable(t *testing.T) {
	r := mustRender(t, namespace, nil)
	for _, name := range crdNames {
		crd := r.find(t, "CustomResourceDefinition", name)
		if got := str(crd, "metadata", "annotations", "helm.sh/resource-policy"); got != "keep" {
			t.Errorf("CRD %s: helm.sh/resource-policy %q, want keep", name, got)
		}
	}
	off := mustRender(t, namespace, map[string]any{"crds": map[string]any{"install": false}})
	for _, o := range off.Objects {
		if o.Kind() == "CustomResourceDefinition" {
			t.Errorf("crds.install=false rendered CRD %s", o.Name())
		}
	}
}

// TestAllValues checks what the values of testdata/all-values.yaml turn
// into in the Deployment and the objects that name the release namespace.
func TestAllValues(t *testing.T) {
	r := mustRender(t, namespace, readValues(t, "all-values.yaml"))
	d := r.find(t, "Deployment", "pushscale")
	c := container(t, d)
	args := stringsOf(list(c, "args"))
	for _, want := range []string{
		"--log-level=debug", "--webhook-require-auth=false",
		"--webhook-tls-cert-file=/etc/pushscale/webhook-tls/tls.crt",
		"--webhook-tls-key-file=/etc/pushscale/webhook-tls/tls.key",
		"--manage-certificates=false",
		"--metrics-api-cert-file=/etc/pushscale/certificates/tls.crt",
		"--metrics-api-key-file=/etc/pushscale/certificates/tls.key",
		"--admission-tls-cert-file=/etc/pushscale/certificates/tls.crt",
		"--admission-tls-key-file=/etc/pushscale/certificates/tls.key",
		"--repair-interval=10m", "--cluster-trigger-auth-target-check=warn",
	} {
		if !slices.Contains(args, want) {
			t.Errorf("args lack %s: %q", want, args)
		}
	}
	var env []string
	for _, e := range list(c, "env") {
		env = append(env, str(e, "name"))
	}
	if want := []string{"POD_NAMESPACE", "POD_IP", "POD_NAME", "GOMEMLIMIT", "PUSHSCALE_KUBE_API_QPS", "GODEBUG"}; !slices.Equal(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
	if got := str(c, "image"); got != "ghcr.io/pushscale/pushscale:v0.1.0-test" {
		t.Errorf("image %q", got)
	}
	if got := str(d, "spec", "template", "metadata", "labels", "example.com/tier"); got != "control" {
		t.Errorf("podLabels not on the pod: %q", got)
	}
	if got := str(d, "spec", "template", "spec", "priorityClassName"); got != "system-cluster-critical" {
		t.Errorf("priorityClassName %q", got)
	}
	for _, key := range []string{"nodeSelector", "tolerations", "affinity", "topologySpreadConstraints", "imagePullSecrets"} {
		if get(d, "spec", "template", "spec", key) == nil {
			t.Errorf("the pod has no %s", key)
		}
	}

	// cert-manager: the CA is injected into both, the gateway's own
	// certificate rules are gone.
	for _, kind := range [][2]string{{"APIService", "v1beta1.external.metrics.k8s.io"}, {"ValidatingWebhookConfiguration", "pushscale"}} {
		obj := r.find(t, kind[0], kind[1])
		if got := str(obj, "metadata", "annotations", "cert-manager.io/inject-ca-from"); got != namespace+"/pushscale-serving" {
			t.Errorf("%s: inject-ca-from %q", kind[0], got)
		}
	}
	for _, kind := range [][2]string{{"ClusterRole", "pushscale"}, {"Role", "pushscale"}} {
		for _, rule := range list(r.find(t, kind[0], kind[1]), "rules") {
			for _, res := range stringsOf(list(rule, "resources")) {
				if res == "secrets" && kind[0] == "Role" || res == "apiservices" || res == "validatingwebhookconfigurations" {
					t.Errorf("%s keeps the rule on %s though cert-manager manages the certificates", kind[0], res)
				}
			}
		}
	}
	cert := r.find(t, "Certificate", "pushscale-serving")
	dns := stringsOf(list(cert, "spec", "dnsNames"))
	for _, want := range []string{"pushscale-metrics-api." + namespace + ".svc", "pushscale-admission." + namespace + ".svc", "pushscale.example.com"} {
		if !slices.Contains(dns, want) {
			t.Errorf("serving certificate lacks %s: %q", want, dns)
		}
	}
	if got := str(cert, "spec", "secretName"); got != "pushscale-certificates" {
		t.Errorf("serving certificate's Secret %q", got)
	}

	// The webhook over TLS: the Service's port and the Ingress backend.
	svc := r.find(t, "Service", "pushscale-webhook")
	if p := list(svc, "spec", "ports"); len(p) != 1 || str(p[0], "name") != "https" {
		t.Errorf("webhook Service ports %v, want one named https", p)
	}
	ing := r.find(t, "Ingress", "pushscale-webhook")
	rules := list(ing, "spec", "rules")
	if len(rules) != 1 || str(rules[0], "host") != "events.example.com" {
		t.Fatalf("Ingress rules %v", rules)
	}
	backend := get(list(rules[0], "http", "paths")[0], "backend", "service")
	if str(backend, "name") != "pushscale-webhook" || str(backend, "port", "name") != "https" {
		t.Errorf("Ingress backend %v", backend)
	}
	if str(ing, "spec", "ingressClassName") != "nginx" || len(list(ing, "spec", "tls")) != 1 {
		t.Errorf("Ingress class or tls missing: %v", ing["spec"])
	}

	dashboards, err := filepath.Glob(filepath.Join(chartPath, "dashboards", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dashboards) > 0 {
		r.find(t, "ConfigMap", "pushscale-dashboards")
	}

	ns := r.find(t, "Namespace", namespace)
	if got := str(ns, "metadata", "labels", "pod-security.kubernetes.io/enforce"); got != "restricted" {
		t.Errorf("namespace enforces %q", got)
	}
	if len(list(r.find(t, "PrometheusRule", "pushscale"), "spec", "groups")) != 1 {
		t.Error("PrometheusRule has no group")
	}
}

// TestNamespaceFollowsRelease: everything names the release namespace,
// including the APIService's and the webhooks' service and the subjects of
// every binding; only the auth-reader RoleBinding lives in kube-system.
func TestNamespaceFollowsRelease(t *testing.T) {
	const ns = "autoscaling"
	for _, tc := range []struct {
		name   string
		values map[string]any
	}{
		{"default", nil},
		{"all", readValues(t, "all-values.yaml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRender(t, ns, tc.values)
			if strings.Contains(r.Manifest, "pushscale-system") {
				t.Error("the render names pushscale-system")
			}
			for _, o := range r.Objects {
				want := ns
				if o.Kind() == "RoleBinding" && o.Name() == "pushscale-auth-reader" {
					want = "kube-system"
				}
				if !clusterScoped[o.Kind()] && o.Namespace() != want {
					t.Errorf("%s %s in namespace %q, want %q", o.Kind(), o.Name(), o.Namespace(), want)
				}
			}
			if got := str(r.find(t, "APIService", "v1beta1.external.metrics.k8s.io"), "spec", "service", "namespace"); got != ns {
				t.Errorf("APIService service namespace %q", got)
			}
			for _, w := range list(r.find(t, "ValidatingWebhookConfiguration", "pushscale"), "webhooks") {
				if got := str(w, "clientConfig", "service", "namespace"); got != ns {
					t.Errorf("webhook %s service namespace %q", str(w, "name"), got)
				}
			}
			for _, o := range r.Objects {
				if o.Kind() != "RoleBinding" && o.Kind() != "ClusterRoleBinding" {
					continue
				}
				for _, s := range list(o.Obj, "subjects") {
					want := ns
					if str(s, "name") == "horizontal-pod-autoscaler" {
						want = "kube-system"
					}
					if got := str(s, "namespace"); got != want {
						t.Errorf("%s %s: subject %s in %q, want %q", o.Kind(), o.Name(), str(s, "name"), got, want)
					}
				}
			}
		})
	}
}

// TestValuesRefused: the schema and the chart's own checks refuse values
// that would render something broken.
func TestValuesRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"unknown log level", map[string]any{"logLevel": "loud"}, "logLevel"},
		{"replicas as text", map[string]any{"replicaCount": "two"}, "replicaCount"},
		{"misspelt top-level key", map[string]any{"replicas": 2}, "replicas"},
		{"misspelt nested key", map[string]any{"webhook": map[string]any{"requireAuthentication": false}}, "requireAuthentication"},
		{"port out of range", map[string]any{"ports": map[string]any{"webhook": 70000}}, "webhook"},
		{"bad duration", map[string]any{"certificates": map[string]any{"lifetime": "a week"}}, "lifetime"},
		{"no certificates at all", map[string]any{"certificates": map[string]any{"manage": false}}, "certificates.manage"},
		{"ingress without hosts", map[string]any{"webhook": map[string]any{"ingress": map[string]any{"enabled": true, "hosts": []any{}}}}, "webhook.ingress.hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, namespace, tc.values)
			if err == nil {
				t.Fatal("rendered")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

// TestNotes: NOTES.txt gives the webhook URL inside the cluster, and the
// Ingress's when there is one.
func TestNotes(t *testing.T) {
	r := mustRender(t, namespace, nil)
	t.Logf("NOTES.txt:\n%s", r.Notes)
	if want := "http://pushscale-webhook.pushscale-system.svc/v1/namespaces/<namespace>/streams/<stream>"; !strings.Contains(r.Notes, want) {
		t.Errorf("NOTES.txt lacks %s:\n%s", want, r.Notes)
	}
	all := mustRender(t, namespace, readValues(t, "all-values.yaml"))
	t.Logf("NOTES.txt with all-values.yaml:\n%s", all.Notes)
	for _, want := range []string{
		"https://pushscale-webhook.pushscale-system.svc/v1/namespaces/<namespace>/streams/<stream>",
		"https://events.example.com/v1/namespaces/<namespace>/streams/<stream>",
	} {
		if !strings.Contains(all.Notes, want) {
			t.Errorf("NOTES.txt lacks %s:\n%s", want, all.Notes)
		}
	}
}
