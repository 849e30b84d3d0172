package promql

import (
	"slices"
	"testing"
)

func TestMetricNames(t *testing.T) {
	for _, tc := range []struct {
		name, expr string
		want       []string
	}{
		{"bare selector", `up`, []string{"up"}},
		{"matchers with a brace and a quote in a value", `keda_scaler_active{namespace=~"$namespace", metric="a}b\"c"}`, []string{"keda_scaler_active"}},
		{"function and range with a Grafana interval", `rate(pushscale_events_total[$__rate_interval])`, []string{"pushscale_events_total"}},
		{"aggregation with by before the parentheses", `sum by (namespace, scaledObject) (rate(keda_scaled_object_errors_total[5m])) > 0`, []string{"keda_scaled_object_errors_total"}},
		{"aggregation with by after", `sum(rate(workqueue_adds_total[1m])) without (instance, pod)`, []string{"workqueue_adds_total"}},
		{"histogram quantile", `histogram_quantile(0.99, sum by (le, source) (rate(pushscale_event_to_scale_seconds_bucket[5m])))`, []string{"pushscale_event_to_scale_seconds_bucket"}},
		{"binary operators, on, group_left and numbers", `a_total / on (job) group_left (version) b_info * 1e3 + 0x1f - .5`, []string{"a_total", "b_info"}},
		{"group_left without a list", `a / on (x) group_left b`, []string{"a", "b"}},
		{"offset, bool, set operators", `x offset 5m > bool 1 and y unless z or w @ 1700000000`, []string{"w", "x", "y", "z"}},
		{"time arithmetic", `min(pushscale_certificate_expiry_timestamp_seconds) - time() < 7 * 24 * 3600`, []string{"pushscale_certificate_expiry_timestamp_seconds"}},
		{"absent and vector", `absent(up{job="pushscale-metrics"} == 1) or vector(0)`, []string{"up"}},
		{"subquery", `max_over_time(rate(c_total[1m])[30m:1m])`, []string{"c_total"}},
		{"string arguments", `label_replace(m, "dst", "$1", "src", "(.*)")`, []string{"m"}},
		{"topk and count_values", `topk(5, a) + count_values("v", b)`, []string{"a", "b"}},
		{"recording-rule name with colons", `job:requests:rate5m > 1`, []string{"job:requests:rate5m"}},
		{"duplicates once", `a + a`, []string{"a"}},
		{"scientific notation with sign", `a > 1e+3`, []string{"a"}},
		{"braced Grafana variable", `a{x="${var}"} > ${threshold}`, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := MetricNames(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("MetricNames(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}

func TestMetricNamesErrors(t *testing.T) {
	for _, expr := range []string{`a{x="b}`, `rate(a[5m)`, `a{x="y"`} {
		if _, err := MetricNames(expr); err == nil {
			t.Errorf("MetricNames(%q): no error", expr)
		}
	}
}

func TestGrafanaQueryNames(t *testing.T) {
	for _, tc := range []struct {
		name, q string
		want    []string
	}{
		{"label_values of a metric", `label_values(keda_resource_registered_total, namespace)`, []string{"keda_resource_registered_total"}},
		{"label_values of a selector", `label_values(up{job="x"}, instance)`, []string{"up"}},
		{"label_values of a label alone", `label_values(namespace)`, nil},
		{"label_names", `label_names()`, nil},
		{"query_result", `query_result(topk(3, a))`, []string{"a"}},
		{"plain PromQL", `sum(b)`, []string{"b"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := GrafanaQueryNames(tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("GrafanaQueryNames(%q) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}
