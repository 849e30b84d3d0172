package main

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond // 1..100 ms
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample, p50", []time.Duration{7}, 50, 7},
		{"one sample, p99", []time.Duration{7}, 99, 7},
		{"p50 of 1..100 is the 50th", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100 is the 90th", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100 is the 99th", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p0 is the min", hundred, 0, time.Millisecond},
		{"p99 of 10 is the max", hundred[:10], 99, 10 * time.Millisecond},
		{"p50 of 4 is the 2nd", []time.Duration{1, 2, 3, 4}, 50, 2},
		{"p51 of 4 is the 3rd", []time.Duration{1, 2, 3, 4}, 51, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := percentile(tc.sorted, tc.p); got != tc.want {
				t.Fatalf("percentile(p%v) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarizeSortsAndSummarizes(t *testing.T) {
	d := []time.Duration{5 * time.Millisecond, time.Millisecond, 3 * time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond}
	got := summarize(d)
	want := Summary{N: 5, MinMs: 1, MeanMs: 3, P50Ms: 3, P90Ms: 5, P99Ms: 5, MaxMs: 5}
	if got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
	if (summarize(nil) != Summary{}) {
		t.Fatal("summarize(nil) is not the zero Summary")
	}
}

// hist builds a histogram from bounds and cumulative counts.
func hist(bounds []float64, counts []float64) histogram {
	h := histogram{}
	for i := range bounds {
		h.Buckets = append(h.Buckets, bucket{UpperBound: bounds[i], Count: counts[i]})
	}
	h.Count = counts[len(counts)-1]
	return h
}

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(1)
	bounds := []float64{0.01, 0.02, 0.05, inf}
	cases := []struct {
		name   string
		counts []float64
		q      float64
		want   float64
	}{
		{"all in first bucket, median interpolates from 0", []float64{10, 10, 10, 10}, 0.5, 0.005},
		{"median in second bucket", []float64{0, 10, 10, 10}, 0.5, 0.015},
		{"p90 across buckets", []float64{5, 5, 10, 10}, 0.9, 0.02 + 0.03*0.8},
		{"quantile in +Inf answers the last finite bound", []float64{0, 0, 0, 4}, 0.99, 0.05},
		{"q=1 at exact bucket edge", []float64{2, 4, 4, 4}, 1, 0.02},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := hist(bounds, tc.counts).quantile(tc.q)
			if math.Abs(got-tc.want) > 1e-12 {
				t.Fatalf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if !math.IsNaN(hist(bounds, []float64{0, 0, 0, 0}).quantile(0.5)) {
		t.Fatal("quantile of an empty histogram is not NaN")
	}
	if !math.IsNaN((histogram{}).quantile(0.5)) {
		t.Fatal("quantile of a histogram without buckets is not NaN")
	}
}

func TestHistogramSubAndFraction(t *testing.T) {
	inf := math.Inf(1)
	before := hist([]float64{0.01, 0.025, inf}, []float64{1, 2, 3})
	after := hist([]float64{0.01, 0.025, inf}, []float64{6, 10, 13})
	after.Sum, before.Sum = 2, 0.5
	d := after.sub(before)
	if d.Count != 10 || d.Sum != 1.5 {
		t.Fatalf("sub: count %v sum %v, want 10 and 1.5", d.Count, d.Sum)
	}
	wantCounts := []float64{5, 8, 10}
	for i, b := range d.Buckets {
		if b.Count != wantCounts[i] {
			t.Fatalf("sub: bucket %v has %v, want %v", b.UpperBound, b.Count, wantCounts[i])
		}
	}
	if got := d.fractionAtMost(0.025); got != 0.8 {
		t.Fatalf("fractionAtMost(0.025) = %v, want 0.8", got)
	}
	if got := d.fractionAtMost(0.001); got != 0 {
		t.Fatalf("fractionAtMost(0.001) = %v, want 0", got)
	}
	if got := (histogram{}).fractionAtMost(1); !math.IsNaN(got) {
		t.Fatalf("fractionAtMost of nothing = %v, want NaN", got)
	}
}

const sampleMetrics = `# HELP pushscale_event_to_scale_seconds Time from ...
# TYPE pushscale_event_to_scale_seconds histogram
pushscale_event_to_scale_seconds_bucket{source="redis",le="0.001"} 9
pushscale_event_to_scale_seconds_bucket{source="webhook",le="0.025"} 4
pushscale_event_to_scale_seconds_bucket{source="webhook",le="0.001"} 1
pushscale_event_to_scale_seconds_bucket{source="webhook",le="+Inf"} 5
pushscale_event_to_scale_seconds_sum{source="webhook"} 0.125
pushscale_event_to_scale_seconds_count{source="webhook"} 5
pushscale_event_to_scale_seconds_count{source="redis"} 9
pushscale_events_total{reason="a \"quoted\", value",result="ok",source="webhook"} 12
go_goroutines 42
`

func TestParseHistogram(t *testing.T) {
	h, err := parseHistogram(strings.NewReader(sampleMetrics), "pushscale_event_to_scale_seconds", map[string]string{"source": "webhook"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Count != 5 || h.Sum != 0.125 || len(h.Buckets) != 3 {
		t.Fatalf("got %+v", h)
	}
	if h.Buckets[0].UpperBound != 0.001 || h.Buckets[1].UpperBound != 0.025 || !math.IsInf(h.Buckets[2].UpperBound, 1) {
		t.Fatalf("buckets not sorted by bound: %+v", h.Buckets)
	}
	none, err := parseHistogram(strings.NewReader(sampleMetrics), "pushscale_event_to_scale_seconds", map[string]string{"source": "kafka"})
	if err != nil || len(none.Buckets) != 0 || none.Count != 0 {
		t.Fatalf("absent series: %+v %v", none, err)
	}
}

func TestParseSampleLabels(t *testing.T) {
	name, labels, v, err := parseSample(`m{reason="a \"quoted\", value",x="y\\z"} 12 1700000000`)
	if err != nil {
		t.Fatal(err)
	}
	if name != "m" || v != 12 || labels["reason"] != `a "quoted", value` || labels["x"] != `y\z` {
		t.Fatalf("got %q %v %q", name, v, labels)
	}
	if _, _, _, err := parseSample(`m{reason="open} 1`); err == nil {
		t.Fatal("unterminated label value accepted")
	}
	if _, _, _, err := parseSample(`m 1`); err != nil {
		t.Fatalf("sample without labels: %v", err)
	}
}

func TestRequestCountsAndTopRates(t *testing.T) {
	before, err := parseRequestCounts(strings.NewReader(`apiserver_request_total{code="200",group="",resource="configmaps",verb="PUT",version="v1"} 10
apiserver_request_total{code="200",group="apps",resource="deployments",subresource="scale",verb="GET",version="v1"} 5
`))
	if err != nil {
		t.Fatal(err)
	}
	after, err := parseRequestCounts(strings.NewReader(`# TYPE apiserver_request_total counter
apiserver_request_total{code="200",group="",resource="configmaps",verb="PUT",version="v1"} 30
apiserver_request_total{code="409",group="",resource="configmaps",verb="PUT",version="v1"} 2
apiserver_request_total{code="200",group="apps",resource="deployments",subresource="scale",verb="GET",version="v1"} 105
apiserver_request_total{code="200",group="",resource="pods",verb="LIST",version="v1"} 7
apiserver_request_duration_seconds_bucket{le="1"} 3
`))
	if err != nil {
		t.Fatal(err)
	}
	if after["PUT configmaps"] != 32 || after["GET apps/deployments/scale"] != 105 {
		t.Fatalf("counts %v", after)
	}
	top := topRates(before, after, 10, 2)
	want := []apiCount{{"GET apps/deployments/scale", 10}, {"PUT configmaps", 2.2}}
	if len(top) != 2 || top[0] != want[0] || top[1].Request != want[1].Request || math.Abs(top[1].PerS-2.2) > 1e-9 {
		t.Fatalf("top %v, want %v", top, want)
	}
}
