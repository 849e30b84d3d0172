package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"math"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/metrics/pkg/apis/external_metrics"
	"k8s.io/utils/clock"
	"sigs.k8s.io/custom-metrics-apiserver/pkg/provider"
)

// ScaledObjectLabel is the label selector key by which the HPA names the
// ScaledObject whose metric it asks for; KEDA puts it in the metric selector
// of every external metric of the HPAs it owns.
const ScaledObjectLabel = "scaledobject.keda.sh/name"

// placeholderMetric is the one metric listed in discovery, as KEDA does:
// external metrics are not discoverable per ScaledObject, and the HPA never
// reads discovery for them.
const placeholderMetric = "externalmetrics"

// scaledObjects names the resource in NotFound answers.
var scaledObjects = schema.GroupResource{Group: "keda.sh", Resource: "scaledobjects"}

// Provider implements provider.ExternalMetricsProvider over Values. It is
// safe for concurrent use if its Values is.
type Provider struct {
	values Values
	clock  clock.PassiveClock
}

var _ provider.ExternalMetricsProvider = (*Provider)(nil)

// NewProvider returns a Provider answering from values.
func NewProvider(values Values) *Provider {
	return &Provider{values: values, clock: clock.RealClock{}}
}

// GetExternalMetric answers one HPA request: the ScaledObject comes from the
// selector label scaledobject.keda.sh/name only (a BadRequest error without
// it), the metric is looked up case-insensitively by Values and returned
// under its canonical name with milli precision, timestamped now. Errors
// wrapping ErrNotFound become a NotFound API error; other errors of Values
// are returned unchanged, so the HPA shows them and keeps its size.
func (p *Provider) GetExternalMetric(ctx context.Context, namespace string, selector labels.Selector, info provider.ExternalMetricInfo) (*external_metrics.ExternalMetricValueList, error) {
	scaledObject, ok := selector.RequiresExactMatch(ScaledObjectLabel)
	if !ok || scaledObject == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf(
			"scaledObject name is not specified: label selector %q must set %s=<name>", selector.String(), ScaledObjectLabel))
	}
	name, value, err := p.values.ExternalMetric(ctx, namespace, scaledObject, info.Metric)
	if errors.Is(err, ErrNotFound) {
		return nil, provider.NewMetricNotFoundForError(scaledObjects, info.Metric, namespace+"/"+scaledObject)
	}
	if err != nil {
		return nil, err
	}
	return &external_metrics.ExternalMetricValueList{
		Items: []external_metrics.ExternalMetricValue{{
			MetricName: name,
			Timestamp:  metav1.NewTime(p.clock.Now()),
			Value:      milliQuantity(value),
		}},
	}, nil
}

// ListAllExternalMetrics returns one placeholder metric, as KEDA does:
// discovery of external metrics is not meaningful (any ScaledObject may add
// one at any time) and the HPA does not use it.
func (p *Provider) ListAllExternalMetrics() []provider.ExternalMetricInfo {
	return []provider.ExternalMetricInfo{{Metric: placeholderMetric}}
}

// milliQuantity converts v as KEDA does: milli precision, truncated toward
// zero; negative, NaN and infinite values become 0. Values too large for an
// int64 of millis saturate instead of overflowing.
func milliQuantity(v float64) resource.Quantity {
	milli := v * 1000
	var m int64
	switch {
	case math.IsNaN(milli), math.IsInf(milli, 0), milli <= 0:
		m = 0
	case milli >= math.MaxInt64: // 2^63 as a float64: int64(milli) would overflow
		m = math.MaxInt64
	default:
		m = int64(milli)
	}
	return *resource.NewMilliQuantity(m, resource.DecimalSI)
}
