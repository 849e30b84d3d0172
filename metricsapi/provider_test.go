package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// fakeValues holds metrics by namespace/scaledObject and canonical name and
// matches names case-insensitively, as the scaler does.
type fakeValues struct {
	metrics map[string]map[string]float64 // "ns/so" → name → value
	errs    map[string]error              // "ns/so" → error for every metric
}

func (f fakeValues) ExternalMetric(_ context.Context, namespace, scaledObject, metric string) (string, float64, error) {
	key := namespace + "/" + scaledObject
	if err := f.errs[key]; err != nil {
		return "", 0, err
	}
	for name, v := range f.metrics[key] {
		if strings.EqualFold(name, metric) {
			return name, v, nil
		}
	}
	return "", 0, fmt.Errorf("scaledObject %s metric %s: %w", key, metric, ErrNotFound)
}

func TestProviderGetExternalMetric(t *testing.T) {
	values := fakeValues{
		metrics: map[string]map[string]float64{
			"ns/so": {
				"s0-webhook-x":               42,
				"s1-cron-Etc-UTC-00xxThu":    3,
				"s2-redis-Jobs":              1.2345,
				"s3-negative":                -5,
				"s4-nan":                     math.NaN(),
				"s5-inf":                     math.Inf(1),
				"s6-tiny":                    0.0004,
				"s7-huge":                    1e300,
				"s8-fraction-rabbitmq-a-2Fb": 0.5,
			},
		},
		errs: map[string]error{"ns/unknown-yet": errors.New("trigger s0: no value read yet")},
	}
	tests := []struct {
		name      string
		selector  string
		metric    string
		wantName  string
		wantMilli int64
		wantErr   func(error) bool
	}{
		{name: "exact name", selector: "scaledobject.keda.sh/name=so", metric: "s0-webhook-x", wantName: "s0-webhook-x", wantMilli: 42000},
		{name: "lower-cased by the HPA answers original case", selector: "scaledobject.keda.sh/name=so", metric: "s1-cron-etc-utc-00xxthu", wantName: "s1-cron-Etc-UTC-00xxThu", wantMilli: 3000},
		{name: "upper-cased request", selector: "scaledobject.keda.sh/name=so", metric: "S2-REDIS-JOBS", wantName: "s2-redis-Jobs", wantMilli: 1234},
		{name: "double-equals selector", selector: "scaledobject.keda.sh/name==so", metric: "s0-webhook-x", wantName: "s0-webhook-x", wantMilli: 42000},
		{name: "set selector with one value", selector: "scaledobject.keda.sh/name in (so)", metric: "s0-webhook-x", wantName: "s0-webhook-x", wantMilli: 42000},
		{name: "extra selector labels ignored", selector: "app=web,scaledobject.keda.sh/name=so", metric: "s0-webhook-x", wantName: "s0-webhook-x", wantMilli: 42000},
		{name: "negative is zero", selector: "scaledobject.keda.sh/name=so", metric: "s3-negative", wantName: "s3-negative", wantMilli: 0},
		{name: "NaN is zero", selector: "scaledobject.keda.sh/name=so", metric: "s4-nan", wantName: "s4-nan", wantMilli: 0},
		{name: "infinity is zero", selector: "scaledobject.keda.sh/name=so", metric: "s5-inf", wantName: "s5-inf", wantMilli: 0},
		{name: "below a milli truncates to zero", selector: "scaledobject.keda.sh/name=so", metric: "s6-tiny", wantName: "s6-tiny", wantMilli: 0},
		{name: "huge saturates", selector: "scaledobject.keda.sh/name=so", metric: "s7-huge", wantName: "s7-huge", wantMilli: math.MaxInt64},
		{name: "half", selector: "scaledobject.keda.sh/name=so", metric: "s8-fraction-rabbitmq-a-2fb", wantName: "s8-fraction-rabbitmq-a-2Fb", wantMilli: 500},
		{name: "missing selector label", selector: "app=web", metric: "s0-webhook-x", wantErr: apierrors.IsBadRequest},
		{name: "empty selector", selector: "", metric: "s0-webhook-x", wantErr: apierrors.IsBadRequest},
		{name: "two names in selector", selector: "scaledobject.keda.sh/name in (so,other)", metric: "s0-webhook-x", wantErr: apierrors.IsBadRequest},
		{name: "unknown metric", selector: "scaledobject.keda.sh/name=so", metric: "s9-nope", wantErr: apierrors.IsNotFound},
		{name: "unknown scaledObject", selector: "scaledobject.keda.sh/name=other", metric: "s0-webhook-x", wantErr: apierrors.IsNotFound},
		{name: "value not available is returned as-is", selector: "scaledobject.keda.sh/name=unknown-yet", metric: "s0-webhook-x",
			wantErr: func(err error) bool {
				return err.Error() == "trigger s0: no value read yet" && !apierrors.IsNotFound(err)
			}},
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	p := NewProvider(values)
	p.clock = clocktesting.NewFakePassiveClock(now)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			selector, err := labels.Parse(tt.selector)
			if err != nil {
				t.Fatalf("parse selector %q: %v", tt.selector, err)
			}
			list, err := p.GetExternalMetric(context.Background(), "ns", selector, provider.ExternalMetricInfo{Metric: tt.metric})
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("GetExternalMetric() error = %v, want a matching error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetExternalMetric() error = %v", err)
			}
			if len(list.Items) != 1 {
				t.Fatalf("got %d items, want 1", len(list.Items))
			}
			item := list.Items[0]
			if item.MetricName != tt.wantName {
				t.Errorf("MetricName = %q, want %q", item.MetricName, tt.wantName)
			}
			if got := item.Value.MilliValue(); got != tt.wantMilli {
				t.Errorf("Value = %s (%d milli), want %d milli", item.Value.String(), got, tt.wantMilli)
			}
			if !item.Timestamp.Time.Equal(now) {
				t.Errorf("Timestamp = %v, want %v", item.Timestamp.Time, now)
			}
		})
	}
}

func TestProviderNotFoundNamesMetric(t *testing.T) {
	p := NewProvider(fakeValues{})
	selector := labels.SelectorFromSet(labels.Set{ScaledObjectLabel: "so"})
	_, err := p.GetExternalMetric(context.Background(), "ns", selector, provider.ExternalMetricInfo{Metric: "s0-x"})
	if !apierrors.IsNotFound(err) {
		t.Fatalf("error = %v, want NotFound", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "s0-x") || !strings.Contains(msg, "ns/so") {
		t.Errorf("error %q should name the metric and the ScaledObject", msg)
	}
}

func TestProviderListAllExternalMetrics(t *testing.T) {
	got := NewProvider(fakeValues{}).ListAllExternalMetrics()
	if len(got) != 1 || got[0].Metric != placeholderMetric {
		t.Errorf("ListAllExternalMetrics() = %v, want the one placeholder %q", got, placeholderMetric)
	}
}
