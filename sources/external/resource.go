package external

import (
	"context"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
)

// A resource is one distinct request to a scaler: the owner and the
// forwarded metadata of its triggers (and whether its activity is
// streamed). Its read is what KEDA's operator does on every poll:
// GetMetrics, then IsActive.
type resource struct {
	s    *Source
	ep   *endpoint
	id   sources.ResourceID
	c    Config
	push bool
}

func newResource(s *Source, ep *endpoint, id sources.ResourceID, c Config) *resource {
	return &resource{s: s, ep: ep, id: id, c: c, push: c.Push()}
}

// Read asks for the metric named by the scaler's spec (without the s<i>-
// prefix, as KEDA sends it; the spec is asked for first when this source
// has none) and sums the values returned (the HPA sums them too), each the
// float field when > 0, else the integer one; no value is 0. Then IsActive:
// its answer is the read's activity (sources.ReportActive), whatever the
// value: the scaler decides activity, as in KEDA.
func (r *resource) Read(ctx context.Context) (float64, error) {
	rs, ok := r.s.cachedSpec(r.id)
	if !ok {
		var err error
		if rs, err = r.s.fetchSpec(ctx, r.c, r.id); err != nil {
			return 0, err
		}
	}
	ref := ref(r.c)
	resp, err := r.ep.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: rs.name})
	if err != nil {
		return 0, rpcError(r.c, "GetMetrics", err)
	}
	var sum float64
	for _, v := range resp.GetMetricValues() {
		sum += metricValue(v)
	}
	act, err := r.ep.client.IsActive(ctx, ref)
	if err != nil {
		return 0, rpcError(r.c, "IsActive", err)
	}
	sources.ReportActive(ctx, act.GetResult())
	return sum, nil
}

// metricValue is KEDA's rule: the float field when > 0, else the integer.
func metricValue(v *pb.MetricValue) float64 {
	if f := v.GetMetricValueFloat(); f > 0 {
		return f
	}
	return float64(v.GetMetricValue())
}
