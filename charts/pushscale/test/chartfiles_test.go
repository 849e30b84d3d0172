package charttest

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPackagedFiles: .helmignore keeps this test module (and its golden
// files) out of the chart Helm loads and packages.
func TestPackagedFiles(t *testing.T) {
	c := loadChart(t)
	var names []string
	for _, f := range c.Raw {
		names = append(names, f.Name)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "test/") {
			t.Errorf("the chart holds %s", n)
		}
	}
	for _, want := range []string{"Chart.yaml", "values.yaml", "values.schema.json", "templates/NOTES.txt"} {
		found := false
		for _, n := range names {
			found = found || n == want
		}
		if !found {
			t.Errorf("the chart lacks %s", want)
		}
	}
}

var metricName = regexp.MustCompile(`\b(?:pushscale|keda)_[a-z_]+\b`)

// TestPrometheusRuleMetricsExist: every metric the default alert rules
// query is one the gateway registers (its name appears as a Go string in
// the main module's non-test code), so a renamed metric cannot leave an
// alert that never fires.
func TestPrometheusRuleMetricsExist(t *testing.T) {
	r := mustRender(t, namespace, map[string]any{"prometheusRule": map[string]any{"enabled": true}})
	rule := r.find(t, "PrometheusRule", "pushscale")
	var exprs []string
	for _, g := range list(rule, "spec", "groups") {
		for _, rl := range list(g, "rules") {
			exprs = append(exprs, str(rl, "expr"))
		}
	}
	if len(exprs) == 0 {
		t.Fatal("no rules")
	}
	names := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricName.FindAllString(e, -1) {
			names[m] = true
		}
	}
	if len(names) == 0 {
		t.Fatal("the rules query no pushscale or keda metric")
	}
	var code strings.Builder
	err := filepath.WalkDir(repoRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "charts" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		code.Write(data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for n := range names {
		if !strings.Contains(code.String(), `"`+n+`"`) {
			t.Errorf("the rules query %s, which no Go code of the gateway names", n)
		}
	}
}

// TestPrometheusRuleMatchesManifests keeps the chart's default alert rules
// equal to manifests/monitoring's, so both installs alert alike.
func TestPrometheusRuleMatchesManifests(t *testing.T) {
	objs := readManifests(t, filepath.Join(repoRoot, "manifests", "monitoring", "prometheusrule.yaml"))
	if len(objs) != 1 {
		t.Fatalf("manifests/monitoring/prometheusrule.yaml holds %d objects", len(objs))
	}
	groups := list(objs[0].Obj, "spec", "groups")
	if len(groups) != 1 {
		t.Fatalf("%d rule groups in manifests/monitoring", len(groups))
	}
	want := list(groups[0], "rules")
	got := readValues(t, filepath.Join("..", "..", "values.yaml"))["prometheusRule"].(map[string]any)["rules"]
	if asJSON(got) != asJSON(want) {
		t.Fatalf("the chart's prometheusRule.rules differ from manifests/monitoring/prometheusrule.yaml's:\nchart:     %s\nmanifests: %s", asJSON(got), asJSON(want))
	}
}
