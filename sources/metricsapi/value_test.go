package metricsapi

import (
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	const prom = "# HELP jobs_pending Pending jobs.\n# TYPE jobs_pending gauge\njobs_pending{queue=\"a\"} 3\njobs_pending{queue=\"b\",env=\"prod\"} 7\nhits_total 12"
	tests := []struct {
		name, format, loc, body string
		want                    float64
		wantErr                 string
	}{
		{"json number", FormatJSON, "queue.pending", `{"queue":{"pending":12}}`, 12, ""},
		{"json array index", FormatJSON, "items.1.n", `{"items":[{"n":1},{"n":2.5}]}`, 2.5, ""},
		{"json gjson query", FormatJSON, "items.#(name==\"b\").n", `{"items":[{"name":"a","n":1},{"name":"b","n":4}]}`, 4, ""},
		{"json quantity string", FormatJSON, "v", `{"v":"1.5k"}`, 1500, ""},
		{"json milli quantity", FormatJSON, "v", `{"v":"250m"}`, 0.25, ""},
		{"json string not a quantity", FormatJSON, "v", `{"v":"lots"}`, 0, "not a quantity"},
		{"json missing", FormatJSON, "nope", `{"v":1}`, 0, "found nothing"},
		{"json object", FormatJSON, "v", `{"v":{"a":1}}`, 0, "found an object"},
		{"json boolean", FormatJSON, "v", `{"v":true}`, 0, "found true"},
		{"not json", FormatJSON, "v", `<html>`, 0, "not JSON"},
		{"yaml", FormatYAML, "queue.pending", "queue:\n  pending: 9\n", 9, ""},
		{"yaml list", FormatYAML, "items.1", "items: [1, 4]\n", 4, ""},
		{"yaml quantity", FormatYAML, "v", "v: 2Ki\n", 2048, ""},
		{"yaml missing", FormatYAML, "queue.gone", "queue:\n  pending: 9\n", 0, `no "gone"`},
		{"yaml past a value", FormatYAML, "queue.pending.x", "queue:\n  pending: 9\n", 0, "past a value"},
		{"prometheus gauge with labels", FormatPrometheus, `jobs_pending{env="prod",queue="b"}`, prom, 7, ""},
		{"prometheus first match", FormatPrometheus, "jobs_pending", prom, 3, ""},
		{"prometheus untyped without a newline", FormatPrometheus, "hits_total", prom, 12, ""},
		{"prometheus no such labels", FormatPrometheus, `jobs_pending{queue="z"}`, prom, 0, "no sample"},
		{"prometheus no such metric", FormatPrometheus, "other", prom, 0, `no metric "other"`},
		{"prometheus not the format", FormatPrometheus, "x", "{{{", 0, "not in the Prometheus text format"},
		{"NaN refused", FormatPrometheus, "x", "x NaN\n", 0, "not a number the HPA can use"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(apiTrigger(edit(validMetadata(), "format", tc.format, "valueLocation", tc.loc), nil))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.value([]byte(tc.body))
			switch {
			case tc.wantErr == "" && (err != nil || got != tc.want):
				t.Fatalf("value = %g, %v; want %g", got, err, tc.want)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("value = %g, %v; want an error containing %q", got, err, tc.wantErr)
			}
		})
	}
}
