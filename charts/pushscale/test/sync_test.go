package charttest

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/charts/pushscale/test/chartsync"
	"sigs.k8s.io/yaml"
)

// TestGeneratedFilesCurrent fails when manifests/crds or
// manifests/monitoring/dashboards changed and `make chart` was not run (or
// a copy in the chart was edited by hand).
func TestGeneratedFilesCurrent(t *testing.T) {
	files, err := chartsync.Files(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range files {
		got, err := os.ReadFile(filepath.Join(repoRoot, p))
		if err != nil {
			t.Errorf("%s: %v (run make chart)", p, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its source (run make chart)", p)
		}
	}
	stale, err := chartsync.Stale(repoRoot, files)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range stale {
		t.Errorf("%s has no source any more (run make chart)", p)
	}
}

// TestCRDsMatchManifests compares the chart's CRD templates with
// manifests/crds without the generator's help: stripped of the guard and the
// keep annotation they are the source byte for byte, and the rendered CRDs
// are the source's objects plus that annotation.
func TestCRDsMatchManifests(t *testing.T) {
	sources, err := filepath.Glob(filepath.Join(repoRoot, "manifests/crds/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := mustRender(t, namespace, nil)
	rendered := map[string]map[string]any{}
	for _, o := range r.Objects {
		if o.Kind() == "CustomResourceDefinition" {
			rendered[o.Name()] = o.Obj
		}
	}
	n := 0
	for _, src := range sources {
		base := filepath.Base(src)
		if base == "kustomization.yaml" {
			continue
		}
		n++
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := os.ReadFile(filepath.Join(chartPath, "templates/crds", base))
		if err != nil {
			t.Errorf("%s has no copy in the chart: %v", base, err)
			continue
		}
		got, err := chartsync.StripCRDTemplate(tpl)
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		if !bytes.Equal(got, bytes.TrimPrefix(want, []byte("---\n"))) {
			t.Errorf("templates/crds/%s is not manifests/crds/%s", base, base)
		}

		var obj map[string]any
		if err := yaml.Unmarshal(want, &obj); err != nil {
			t.Fatal(err)
		}
		name := str(obj, "metadata", "name")
		crd, ok := rendered[name]
		if !ok {
			t.Errorf("CRD %s (%s) not rendered", name, base)
			continue
		}
		crd = withoutKeep(t, crd)
		if !reflect.DeepEqual(crd, obj) {
			t.Errorf("rendered CRD %s differs from manifests/crds/%s beyond the keep annotation", name, base)
		}
		delete(rendered, name)
	}
	if n != len(crdNames) {
		t.Errorf("%d CRDs in manifests/crds, want %d", n, len(crdNames))
	}
	for name := range rendered {
		t.Errorf("the chart renders CRD %s, which manifests/crds has not", name)
	}
}

// withoutKeep returns a copy of the CRD without helm.sh/resource-policy
// (and without annotations when that was the only one).
func withoutKeep(t *testing.T, crd map[string]any) map[string]any {
	t.Helper()
	data, err := yaml.Marshal(crd)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	md := c["metadata"].(map[string]any)
	ann, _ := md["annotations"].(map[string]any)
	delete(ann, "helm.sh/resource-policy")
	if len(ann) == 0 {
		delete(md, "annotations")
	}
	return c
}

// TestDashboardsMatchManifests: the chart's dashboards are those of
// manifests/monitoring/dashboards byte for byte, and the dashboards
// ConfigMap carries each of them unchanged with the grafana_dashboard label.
func TestDashboardsMatchManifests(t *testing.T) {
	sources, err := filepath.Glob(filepath.Join(repoRoot, "manifests/monitoring/dashboards/*.json"))
	if err != nil {
		t.Fatal(err)
	}
	copies, err := filepath.Glob(filepath.Join(chartPath, "dashboards/*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sources) == 0 && len(copies) == 0 {
		t.Skip("no dashboard in manifests/monitoring/dashboards yet: once one lands, `make chart` copies it and this test checks it")
	}
	have := map[string]bool{}
	for _, c := range copies {
		have[filepath.Base(c)] = true
	}
	r := mustRender(t, namespace, map[string]any{"dashboards": map[string]any{"enabled": true}})
	cm := r.find(t, "ConfigMap", "pushscale-dashboards")
	if got := str(cm, "metadata", "labels", "grafana_dashboard"); got != "1" {
		t.Errorf("dashboards ConfigMap label grafana_dashboard %q, want \"1\"", got)
	}
	data, _ := cm["data"].(map[string]any)
	for _, src := range sources {
		base := filepath.Base(src)
		want, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartPath, "dashboards", base))
		if err != nil {
			t.Errorf("%s has no copy in the chart: %v", base, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("dashboards/%s is not manifests/monitoring/dashboards/%s", base, base)
		}
		if s, _ := data[base].(string); s != string(want) {
			t.Errorf("the ConfigMap's %s is not the dashboard (%d bytes, want %d)", base, len(s), len(want))
		}
		delete(have, base)
	}
	for base := range have {
		t.Errorf("dashboards/%s has no source in manifests/monitoring/dashboards", base)
	}
	if len(data) != len(sources) {
		t.Errorf("the ConfigMap has %d dashboards, want %d", len(data), len(sources))
	}
}

// TestCRDTemplateRoundTrip: CRDTemplate and StripCRDTemplate undo each
// other with and without existing annotations, and refuse text Helm would
// read as a template.
func TestCRDTemplateRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, src string }{
		{"with annotations", "---\napiVersion: v1\nkind: X\nmetadata:\n  annotations:\n    a: b\n    c: d\n  name: x\nspec: {}\n"},
		{"without annotations", "apiVersion: v1\nkind: X\nmetadata:\n  name: x\nspec: {}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tpl, err := chartsync.CRDTemplate("src.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(tpl), "    helm.sh/resource-policy: keep\n") {
				t.Errorf("no keep annotation:\n%s", tpl)
			}
			var obj map[string]any
			body := strings.TrimSuffix(strings.SplitN(string(tpl), "\n", 2)[1], "{{- end }}\n")
			if err := yaml.Unmarshal([]byte(body), &obj); err != nil {
				t.Fatalf("not YAML without the guard: %v\n%s", err, body)
			}
			if str(obj, "metadata", "annotations", "helm.sh/resource-policy") != "keep" || str(obj, "metadata", "name") != "x" {
				t.Errorf("parsed %v", obj)
			}
			back, err := chartsync.StripCRDTemplate(tpl)
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tc.src, "---\n"); string(back) != want {
				t.Errorf("round trip:\n%s\nwant\n%s", back, want)
			}
		})
	}
	if _, err := chartsync.CRDTemplate("src.yaml", []byte("metadata:\n  name: '{{ x }}'\n")); err == nil {
		t.Error("a CRD with {{ was accepted")
	}
}
