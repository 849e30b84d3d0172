package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// The conformance suite: each folder of testdata/conformance holds an
// input.yaml written in the shapes KEDA's documentation shows, and an
// expect.yaml saying what KEDA would make of it (the HPA, the ScaledObject's
// status, its Events), with a comment wherever pushscale deliberately
// differs. Both files are Go templates over conformanceVars.
//
// expect.yaml:
//
//	redis:           # commands run on the case's Redis before the input is applied
//	- [XGROUP, CREATE, orders, workers, $, MKSTREAM]
//	checks:
//	- scaledObject: name
//	  hpa: {...}     # what the HPA must contain (see contains); absent: not checked
//	  noHPA: name    # an HPA that must not exist
//	  status: {...}  # what the status must contain; conditions keyed by type
//	  events: [Reason, Warning Reason]  # Events on the ScaledObject that must exist
//
// Every check must hold at one time within conformanceWait.
type conformanceCase struct {
	Redis  [][]string         `json:"redis"`
	Checks []conformanceCheck `json:"checks"`
}

type conformanceCheck struct {
	ScaledObject string         `json:"scaledObject"`
	HPA          map[string]any `json:"hpa"`
	NoHPA        string         `json:"noHPA"`
	Status       map[string]any `json:"status"`
	Events       []string       `json:"events"`
}

// conformanceVars are what the case templates may use.
type conformanceVars struct {
	Namespace       string // the case's namespace
	SystemNamespace string // the gateway's --cluster-object-namespace
	Redis           string // host:port of a Redis server of the case (started only if used)
	RedisPassword   string
	DeadRedis       string // host:port where nothing listens
}

const (
	conformanceDir      = "testdata/conformance"
	conformanceWait     = time.Minute
	conformancePassword = "conformance-pa55word"
)

// conformanceResources are the kinds an input may hold; namespaced unless
// listed in clusterScoped.
var conformanceResources = map[string]schema.GroupVersionResource{
	"ClusterTriggerAuthentication": kedav1.SchemeGroupVersion.WithResource("clustertriggerauthentications"),
}

var clusterScoped = map[string]bool{"ClusterTriggerAuthentication": true}

func TestConformance(t *testing.T) {
	entries, err := os.ReadDir(filepath.Join(repoRoot(), "e2e", conformanceDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			t.Parallel()
			runConformanceCase(t, filepath.Join(repoRoot(), "e2e", conformanceDir, e.Name()))
		})
	}
}

func runConformanceCase(t *testing.T, dir string) {
	input, err := os.ReadFile(filepath.Join(dir, "input.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	expect, err := os.ReadFile(filepath.Join(dir, "expect.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t)
	ports, err := controlplane.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	vars := conformanceVars{Namespace: ns, SystemNamespace: systemNamespace, RedisPassword: conformancePassword,
		DeadRedis: fmt.Sprintf("127.0.0.1:%d", ports[0])}
	var srv *redistest.Server
	if bytes.Contains(input, []byte(".Redis}}")) || bytes.Contains(expect, []byte(".Redis}}")) {
		srv = redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KEA", Password: conformancePassword})
		vars.Redis = srv.Addr()
	}
	var c conformanceCase
	if err := yaml.Unmarshal(render(t, "expect.yaml", expect, vars), &c); err != nil {
		t.Fatalf("expect.yaml: %v", err)
	}
	if len(c.Checks) == 0 {
		t.Fatal("expect.yaml has no checks")
	}
	for _, cmd := range c.Redis {
		if srv == nil {
			t.Fatal("expect.yaml has redis commands but no template uses {{.Redis}}")
		}
		args := make([]any, len(cmd))
		for i, a := range cmd {
			args[i] = a
		}
		if err := srv.Client().Do(context.Background(), args...).Err(); err != nil {
			t.Fatalf("redis %v: %v", cmd, err)
		}
	}
	applyConformance(t, ns, render(t, "input.yaml", input, vars))

	for _, chk := range c.Checks {
		eventually(t, conformanceWait, "ScaledObject "+chk.ScaledObject+" as expect.yaml says", func() (bool, error) {
			diffs := conformanceDiffs(t, ns, chk)
			return len(diffs) == 0, fmt.Errorf("\n  %s", strings.Join(diffs, "\n  "))
		})
	}
	// The password stays secret: nowhere in statuses, Events or logs.
	sos, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	events, err := env.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dump := compact(sos.Items) + compact(events.Items) + gwLogs.String(); strings.Contains(dump, conformancePassword) {
		t.Fatal("the Redis password appears in a status, an Event or the gateway's logs")
	}
}

// render executes a case template.
func render(t *testing.T, name string, text []byte, vars conformanceVars) []byte {
	t.Helper()
	tmpl, err := template.New(name).Option("missingkey=error").Funcs(template.FuncMap{
		"b64": func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) },
	}).Parse(string(text))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, vars); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out.Bytes()
}

// applyConformance creates the documents of manifest: Deployments first,
// plus a Deployment for every scaleTargetRef the manifest does not declare;
// namespaced objects in ns unless they name a namespace; cluster-scoped
// ones and those of other namespaces are deleted when t ends.
func applyConformance(t *testing.T, ns string, manifest []byte) {
	t.Helper()
	ctx := context.Background()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(string(manifest), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatalf("input.yaml: %v\n%s", err, doc)
		}
		if obj.Object == nil {
			continue // a document of comments only
		}
		objs = append(objs, obj)
	}
	declared := map[string]bool{}
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			declared[o.GetName()] = true
		}
	}
	for _, o := range objs {
		if o.GetKind() != "ScaledObject" {
			continue
		}
		name, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "name")
		kind, _, _ := unstructured.NestedString(o.Object, "spec", "scaleTargetRef", "kind")
		if (kind == "" || kind == "Deployment") && !declared[name] {
			declared[name] = true
			createDeployment(t, ns, name, 0)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool { return objs[i].GetKind() == "Deployment" && objs[j].GetKind() != "Deployment" })
	for _, o := range objs {
		gvr, ok := resources[o.GetKind()]
		if !ok {
			gvr, ok = conformanceResources[o.GetKind()]
		}
		if !ok {
			t.Fatalf("input.yaml: unknown kind %q", o.GetKind())
		}
		var ri = dyn().Resource(gvr)
		switch {
		case clusterScoped[o.GetKind()]:
			if _, err := ri.Create(ctx, o, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s %s: %v", o.GetKind(), o.GetName(), err)
			}
			t.Cleanup(func() { _ = ri.Delete(context.Background(), o.GetName(), metav1.DeleteOptions{}) })
		default:
			on := o.GetNamespace()
			if on == "" {
				on = ns
				o.SetNamespace(ns)
			}
			if _, err := ri.Namespace(on).Create(ctx, o, metav1.CreateOptions{}); err != nil {
				t.Fatalf("create %s %s/%s: %v", o.GetKind(), on, o.GetName(), err)
			}
			if on != ns {
				t.Cleanup(func() { _ = ri.Namespace(on).Delete(context.Background(), o.GetName(), metav1.DeleteOptions{}) })
			}
		}
	}
}

// conformanceDiffs lists how the cluster differs from chk (nil: it holds).
func conformanceDiffs(t *testing.T, ns string, chk conformanceCheck) []string {
	t.Helper()
	ctx := context.Background()
	var diffs []string
	so, err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Get(ctx, chk.ScaledObject, metav1.GetOptions{})
	if err != nil {
		return []string{fmt.Sprintf("ScaledObject %s: %v", chk.ScaledObject, err)}
	}
	if chk.Status != nil {
		status, _ := so.Object["status"].(map[string]any)
		diffs = append(diffs, contains("status", chk.Status, conditionsByType(status))...)
	}
	if chk.HPA != nil {
		meta, _ := chk.HPA["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		h, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			diffs = append(diffs, fmt.Sprintf("HPA %q: %v", name, err))
		} else {
			diffs = append(diffs, contains("hpa", chk.HPA, toMap(t, h))...)
		}
	}
	if chk.NoHPA != "" {
		_, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, chk.NoHPA, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			diffs = append(diffs, fmt.Sprintf("HPA %s exists (err %v); want none", chk.NoHPA, err))
		}
	}
	if len(chk.Events) > 0 {
		list, err := env.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return append(diffs, fmt.Sprintf("events: %v", err))
		}
		var seen []string
		for _, e := range list.Items {
			if e.InvolvedObject.Kind == "ScaledObject" && e.InvolvedObject.Name == chk.ScaledObject {
				seen = append(seen, e.Type+" "+e.Reason)
			}
		}
		for _, want := range chk.Events {
			if !slices.ContainsFunc(seen, func(s string) bool { return s == want || strings.HasSuffix(s, " "+want) }) {
				diffs = append(diffs, fmt.Sprintf("no Event %q on %s (seen %v)", want, chk.ScaledObject, seen))
			}
		}
	}
	return diffs
}

// conditionsByType returns a copy of status whose conditions list is a
// map from type to condition, as expect.yaml writes it.
func conditionsByType(status map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range status {
		out[k] = v
	}
	if list, ok := status["conditions"].([]any); ok {
		m := map[string]any{}
		for _, c := range list {
			if cm, ok := c.(map[string]any); ok {
				m[fmt.Sprint(cm["type"])] = cm
			}
		}
		out["conditions"] = m
	}
	return out
}

func toMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// contains lists where got does not contain want, by path: a map must hold
// each of want's keys (a null value: the key is absent or null), a list
// must have want's length and each element contain want's, and scalars
// must print the same, except that a want string starting with "~" is a
// substring of got's.
func contains(path string, want, got any) []string {
	switch w := want.(type) {
	case nil:
		if got != nil {
			return []string{fmt.Sprintf("%s: got %v, want none", path, got)}
		}
		return nil
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var diffs []string
		keys := make([]string, 0, len(w))
		for k := range w {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			diffs = append(diffs, contains(path+"."+k, w[k], g[k])...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %s, want %d items", path, compact(got), len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, contains(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return diffs
	case string:
		if sub, ok := strings.CutPrefix(w, "~"); ok {
			if s, isStr := got.(string); !isStr || !strings.Contains(s, sub) {
				return []string{fmt.Sprintf("%s: got %v, want it to contain %q", path, got, sub)}
			}
			return nil
		}
	}
	if got == nil || fmt.Sprint(want) != fmt.Sprint(got) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, compact(got), want)}
	}
	return nil
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
