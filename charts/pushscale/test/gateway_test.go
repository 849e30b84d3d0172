package charttest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"testing"

	"sigs.k8s.io/yaml"
)

// gatewayBase parses the resources of manifests/gateway/kustomization.yaml
// (the files themselves: the e2e test builds them with kubectl kustomize,
// whose only transform here is the image tag).
func gatewayBase(t *testing.T) []object {
	t.Helper()
	dir := filepath.Join(repoRoot, "manifests/gateway")
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct {
		Resources []string `json:"resources"`
	}
	if err := yaml.Unmarshal(data, &k); err != nil {
		t.Fatal(err)
	}
	if len(k.Resources) == 0 {
		t.Fatal("manifests/gateway/kustomization.yaml lists no resources")
	}
	paths := make([]string, len(k.Resources))
	for i, r := range k.Resources {
		paths[i] = filepath.Join(dir, r)
	}
	return readManifests(t, paths...)
}

// The flags the chart passes by default beyond manifests/gateway's, each
// the gateway's own default, spelled out so that the values show them.
var chartOnlyArgs = []string{"--log-level=info", "--webhook-require-auth=true"}

// TestDefaultMatchesGatewayManifests: the default render holds the objects
// of manifests/gateway, by kind and name, and they agree in everything but
// labels (the chart adds Helm's): RBAC rules and bindings, Services,
// APIService, webhooks, PDB, NetworkPolicy; and in the Deployment its
// strategy, selector, security contexts, ports, probes, env, resources,
// volumes and flags. The Namespace is the one exception: Helm creates the
// release namespace (--create-namespace), and the chart renders it only
// with namespace.create, then with the same Pod Security labels.
func TestDefaultMatchesGatewayManifests(t *testing.T) {
	base := gatewayBase(t)
	r := mustRender(t, namespace, nil)

	want := map[string]object{}
	for _, o := range base {
		want[o.Kind()+"/"+o.Name()] = o
	}
	got := map[string]object{}
	for _, o := range r.Objects {
		if o.Kind() != "CustomResourceDefinition" {
			got[o.Kind()+"/"+o.Name()] = o
		}
	}
	ns, ok := want["Namespace/"+namespace]
	if !ok {
		t.Fatalf("manifests/gateway has no Namespace %s", namespace)
	}
	delete(want, "Namespace/"+namespace)
	if w, g := keys(want), keys(got); !slices.Equal(w, g) {
		t.Fatalf("objects differ:\nmanifests/gateway %q\nchart             %q", w, g)
	}

	withNS := mustRender(t, namespace, map[string]any{"namespace": map[string]any{"create": true}})
	gotNS := withNS.find(t, "Namespace", namespace)
	for k, v := range get(ns.Obj, "metadata", "labels").(map[string]any) {
		if got := get(gotNS, "metadata", "labels", k); got != v {
			t.Errorf("Namespace label %s = %v, want %v", k, got, v)
		}
	}

	for key, w := range want {
		g := got[key]
		if w.Kind() == "Deployment" {
			compareDeployment(t, w.Obj, g.Obj)
			continue
		}
		if nw, ng := normalize(t, w.Obj), normalize(t, g.Obj); !reflect.DeepEqual(nw, ng) {
			t.Errorf("%s differs:\nmanifests/gateway %s\nchart             %s", key, asJSON(nw), asJSON(ng))
		}
	}
}

// normalize drops what the chart may differ in: labels and annotations,
// and a Service's type when it is the default, ClusterIP.
func normalize(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	c := clone(t, obj)
	md := c["metadata"].(map[string]any)
	delete(md, "labels")
	delete(md, "annotations")
	if c["kind"] == "Service" && get(c, "spec", "type") == "ClusterIP" {
		delete(c["spec"].(map[string]any), "type")
	}
	return c
}

func compareDeployment(t *testing.T, want, got map[string]any) {
	t.Helper()
	for _, path := range [][]string{
		{"metadata", "namespace"},
		{"spec", "replicas"},
		{"spec", "strategy"},
		{"spec", "selector"},
		{"spec", "template", "spec", "serviceAccountName"},
		{"spec", "template", "spec", "automountServiceAccountToken"},
		{"spec", "template", "spec", "securityContext"},
		{"spec", "template", "spec", "volumes"},
	} {
		if w, g := get(want, path...), get(got, path...); !reflect.DeepEqual(w, g) {
			t.Errorf("Deployment %v differs:\nmanifests/gateway %s\nchart             %s", path, asJSON(w), asJSON(g))
		}
	}
	if w, g := get(want, "spec", "template", "metadata", "labels", "app.kubernetes.io/name"), get(got, "spec", "template", "metadata", "labels", "app.kubernetes.io/name"); w != g {
		t.Errorf("pod label app.kubernetes.io/name %v, want %v", g, w)
	}
	wc, gc := clone(t, container(t, want)), clone(t, container(t, got))
	wantArgs, gotArgs := stringsOf(list(wc, "args")), stringsOf(list(gc, "args"))
	for _, a := range wantArgs {
		if !slices.Contains(gotArgs, a) {
			t.Errorf("the chart's args lack %s: %q", a, gotArgs)
		}
	}
	for _, a := range gotArgs {
		if !slices.Contains(wantArgs, a) && !slices.Contains(chartOnlyArgs, a) {
			t.Errorf("the chart passes %s, which manifests/gateway does not", a)
		}
	}
	// The rest of the container is the same: name, env, ports, probes,
	// resources, securityContext, volumeMounts.
	for _, c := range []map[string]any{wc, gc} {
		delete(c, "args")
		delete(c, "image")
		delete(c, "imagePullPolicy")
	}
	if !reflect.DeepEqual(wc, gc) {
		t.Errorf("the container differs:\nmanifests/gateway %s\nchart             %s", asJSON(wc), asJSON(gc))
	}
	if got := str(container(t, got), "image"); got != "ghcr.io/pushscale/pushscale:0.1.0" {
		t.Errorf("image %s, want the appVersion tag", got)
	}
}

// clone deep-copies a parsed object.
func clone(t *testing.T, obj map[string]any) map[string]any {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func asJSON(v any) string {
	data, _ := json.Marshal(v)
	return string(data)
}

func keys(m map[string]object) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
