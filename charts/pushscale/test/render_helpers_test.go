package charttest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"sigs.k8s.io/yaml"
)

// Paths from this module's directory.
const (
	repoRoot  = "../../.."
	chartPath = ".."
	namespace = "pushscale-system"
	release   = "pushscale"
)

// rendering is one render of the chart.
type rendering struct {
	// Manifest is what `helm template` prints: every manifest in install
	// order, each after "---" and a "# Source:" line.
	Manifest string
	// Notes is the rendered NOTES.txt.
	Notes string
	// Objects are the manifests parsed, in the same order.
	Objects []object
}

// object is one parsed manifest and the template it came from.
type object struct {
	Source string
	Obj    map[string]any
}

func (o object) Kind() string { return str(o.Obj, "kind") }
func (o object) Name() string { return str(o.Obj, "metadata", "name") }
func (o object) Namespace() string {
	return str(o.Obj, "metadata", "namespace")
}

// loadChart loads the chart directory as `helm template` does (.helmignore
// applied).
func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	c, err := loader.Load(chartPath)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return c
}

// render renders the chart with values in release namespace ns, as
// `helm template pushscale charts/pushscale -n ns -f values.yaml` does.
func render(t *testing.T, ns string, values map[string]any) (*rendering, error) {
	t.Helper()
	c := loadChart(t)
	opts := common.ReleaseOptions{Name: release, Namespace: ns, Revision: 1, IsInstall: true}
	vals, err := util.ToRenderValuesWithSchemaValidation(c, values, opts, common.DefaultCapabilities, false)
	if err != nil {
		return nil, fmt.Errorf("values: %w", err)
	}
	files, err := engine.Render(c, vals)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	r := &rendering{}
	for name, content := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			r.Notes = content
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, fmt.Errorf("sort manifests: %w", err)
	}
	if len(hooks) > 0 {
		return nil, fmt.Errorf("the chart has %d hooks; it should have none", len(hooks))
	}
	var b strings.Builder
	for _, m := range manifests {
		fmt.Fprintf(&b, "---\n# Source: %s\n%s\n", m.Name, m.Content)
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(m.Content), &obj); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Name, err)
		}
		r.Objects = append(r.Objects, object{Source: m.Name, Obj: obj})
	}
	r.Manifest = b.String()
	return r, nil
}

// mustRender is render that fails the test on an error.
func mustRender(t *testing.T, ns string, values map[string]any) *rendering {
	t.Helper()
	r, err := render(t, ns, values)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// readValues reads a values file of testdata.
func readValues(t *testing.T, name string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// find returns the object of that kind and name, failing the test when
// there is none.
func (r *rendering) find(t *testing.T, kind, name string) map[string]any {
	t.Helper()
	for _, o := range r.Objects {
		if o.Kind() == kind && o.Name() == name {
			return o.Obj
		}
	}
	t.Fatalf("no %s %s in the render", kind, name)
	return nil
}

// has says whether the render holds an object of that kind and name.
func (r *rendering) has(kind, name string) bool {
	for _, o := range r.Objects {
		if o.Kind() == kind && o.Name() == name {
			return true
		}
	}
	return false
}

// readManifests parses every document of the YAML files, skipping empty
// documents.
func readManifests(t *testing.T, paths ...string) []object {
	t.Helper()
	var out []object
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range splitDocuments(data) {
			var obj map[string]any
			if err := yaml.Unmarshal(doc, &obj); err != nil {
				t.Fatalf("%s document %d: %v", p, i, err)
			}
			if len(obj) == 0 {
				continue
			}
			out = append(out, object{Source: p, Obj: obj})
		}
	}
	return out
}

// splitDocuments splits a YAML stream at its "---" lines.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if bytes.Equal(bytes.TrimRight(line, " \r\n"), []byte("---")) {
			docs = append(docs, bytes.Clone(cur.Bytes()))
			cur.Reset()
			continue
		}
		cur.Write(line)
	}
	return append(docs, cur.Bytes())
}

// get walks nested maps; nil when a key is missing.
func get(v any, path ...string) any {
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any, path ...string) string {
	s, _ := get(v, path...).(string)
	return s
}

func list(v any, path ...string) []any {
	l, _ := get(v, path...).([]any)
	return l
}

// container returns the Deployment's first container.
func container(t *testing.T, deployment map[string]any) map[string]any {
	t.Helper()
	cs := list(deployment, "spec", "template", "spec", "containers")
	if len(cs) == 0 {
		t.Fatal("the Deployment has no container")
	}
	return cs[0].(map[string]any)
}

// strings of a list (args).
func stringsOf(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}
