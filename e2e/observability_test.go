package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/e2e/promql"
)

// notFromTheGateway are names the monitoring manifests may query that the
// gateway's /metrics cannot hold, each with the reason.
var notFromTheGateway = map[string]string{
	"up": "made by Prometheus for every scrape target",
}

// TestMonitoringQueriesLiveMetrics: with a webhook ScaledObject activated
// and a ScaledJob that created a Job (so the labelled series exist), every
// metric that the Grafana dashboard's panels and variables and the
// PrometheusRule's alerts query is in the gateway's live /metrics; KEDA's
// series of the ScaledObject carry KEDA's labels and go away with it.
func TestMonitoringQueriesLiveMetrics(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "dash", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(webhookSO, "dash", "jobs", 300))
	eventually(t, shortWait, "the ScaledObject to be Ready", func() (bool, error) {
		c := condition(t, ns, "dash", kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("Ready: %+v", c)
	})
	postOK(t, ns, "jobs", `{"value": 1}`)
	waitReplicas(t, ns, "dash", 1, shortWait)

	jobNS, jt := startScaledJob(t, "dashjob", 2, "", true)
	postOK(t, jobNS, "items", `{"value": 1}`)
	jt.waitCreated(t, 1)

	queried := map[string][]string{} // metric name → where it is queried
	for _, q := range dashboardQueries(t) {
		names, err := promql.GrafanaQueryNames(q.expr)
		if err != nil {
			t.Fatalf("dashboard %s: %v", q.where, err)
		}
		for _, n := range names {
			queried[n] = append(queried[n], q.where)
		}
	}
	for _, q := range ruleQueries(t) {
		names, err := promql.MetricNames(q.expr)
		if err != nil {
			t.Fatalf("PrometheusRule %s: %v", q.where, err)
		}
		for _, n := range names {
			queried[n] = append(queried[n], q.where)
		}
	}
	if len(queried) < 20 {
		t.Fatalf("only %d metric names found in the dashboard and rules: %v", len(queried), queried)
	}
	for n, why := range notFromTheGateway {
		if _, ok := queried[n]; ok {
			t.Logf("%s is queried and not checked: %s", n, why)
			delete(queried, n)
		}
	}

	// Some series appear a moment after the events that make them (the
	// decision after the activation, the saved webhook levels).
	eventually(t, shortWait, "every queried metric in /metrics", func() (bool, error) {
		live := liveMetricNames(t)
		var missing []string
		for n, where := range queried {
			if !live[n] && !live[n+"_bucket"] {
				missing = append(missing, fmt.Sprintf("%s (queried by %s)", n, strings.Join(where, "; ")))
			}
		}
		sort.Strings(missing)
		return len(missing) == 0, fmt.Errorf("not in the gateway's /metrics: %s", strings.Join(missing, ", "))
	})
	t.Logf("%d metric names queried by the dashboard and the alerts, all in /metrics", len(queried))

	labels := fmt.Sprintf(`metric="s0-webhook-jobs",namespace=%q,scaledObject="dash",scaler="webhook",triggerIndex="0",type="scaledobject"`, ns)
	eventually(t, shortWait, "keda_scaler_active of the ScaledObject at 1", func() (bool, error) {
		v, ok := gatewayGauge(t, "keda_scaler_active", labels)
		return ok && v == 1, fmt.Errorf("keda_scaler_active{%s} = %v (present %v)", labels, v, ok)
	})
	if _, ok := gatewaySample(t, `workqueue_adds_total{name="scaledobject-decide"} `); !ok {
		t.Errorf("no workqueue_adds_total of the queue scaledobject-decide")
	}

	if err := dyn().Resource(resources["ScaledObject"]).Namespace(ns).Delete(ctx, "dash", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "the deleted ScaledObject's KEDA series to go", func() (bool, error) {
		for _, name := range []string{"keda_scaler_metrics_value", "keda_scaler_active", "keda_scaler_detail_errors_total"} {
			if _, ok := gatewayGauge(t, name, labels); ok {
				return false, fmt.Errorf("%s{%s} still exported", name, labels)
			}
		}
		obj := fmt.Sprintf(`namespace=%q,scaledObject="dash"`, ns)
		for _, name := range []string{"keda_scaled_object_paused", "keda_scaled_object_errors_total"} {
			if _, ok := gatewayGauge(t, name, obj); ok {
				return false, fmt.Errorf("%s{%s} still exported", name, obj)
			}
		}
		return true, nil
	})
}

// query is one PromQL expression and where it was found.
type query struct{ where, expr string }

// dashboardQueries returns every target expr of the dashboard's panels
// (rows' panels included) and every query of its template variables.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "manifests", "monitoring", "dashboards", "pushscale.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string                  `json:"title"`
		Targets []struct{ Expr string } `json:"targets"`
		Panels  []json.RawMessage       `json:"panels"`
	}
	var dash struct {
		SchemaVersion int               `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if dash.SchemaVersion < 39 {
		t.Errorf("dashboard schemaVersion %d: older than current Grafana's", dash.SchemaVersion)
	}
	var qs []query
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("dashboard panel: %v", err)
			}
			for i, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q target %d has no expr", p.Title, i)
				}
				qs = append(qs, query{fmt.Sprintf("panel %q", p.Title), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil { // Grafana writes a string or {"query": ...}
			var obj struct{ Query string }
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				t.Fatalf("variable %s: query %s", v.Name, v.Query)
			}
			q = obj.Query
		}
		qs = append(qs, query{"variable $" + v.Name, q})
	}
	return qs
}

// ruleQueries returns the expr of every rule of the PrometheusRule.
func ruleQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), "manifests", "monitoring", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert, Record, Expr string
				}
			}
		}
	}
	if err := yaml.Unmarshal(raw, &rule); err != nil {
		t.Fatalf("PrometheusRule: %v", err)
	}
	var qs []query
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			if strings.TrimSpace(r.Expr) == "" {
				t.Errorf("rule %s%s has no expr", r.Alert, r.Record)
			}
			qs = append(qs, query{"alert " + r.Alert + r.Record, r.Expr})
		}
	}
	if len(qs) == 0 {
		t.Fatal("PrometheusRule has no rules")
	}
	return qs
}

// liveMetricNames returns the names of every sample of the gateway's
// /metrics (a histogram's as name_bucket, name_sum and name_count).
func liveMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	resp, err := http.Get(gw.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			names[line[:i]] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
