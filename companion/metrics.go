package companion

import (
	"context"
	"path"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// Metrics are the external scaler server's Prometheus metrics. A nil
// *Metrics counts nothing.
type Metrics struct {
	requests *prometheus.CounterVec
	streams  *prometheus.GaugeVec
	triggers prometheus.Gauge
}

// NewMetrics registers the metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_external_scaler_requests_total",
			Help: "External scaler (companion mode) calls by rpc and gRPC status code; a stream counts when it ends.",
		}, []string{"rpc", "code"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushscale_external_scaler_open_streams",
			Help: "External scaler (companion mode) streams open, by rpc.",
		}, []string{"rpc"}),
		triggers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pushscale_external_scaler_triggers",
			Help: "Triggers watched for external scaler (companion mode) callers.",
		}),
	}
	reg.MustRegister(m.requests, m.streams, m.triggers)
	return m
}

func (m *Metrics) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	m.requests.WithLabelValues(path.Base(info.FullMethod), status.Code(err).String()).Inc()
	return resp, err
}

func (m *Metrics) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	rpc := path.Base(info.FullMethod)
	g := m.streams.WithLabelValues(rpc)
	g.Inc()
	err := h(srv, ss)
	g.Dec()
	m.requests.WithLabelValues(rpc, status.Code(err).String()).Inc()
	return err
}

func (m *Metrics) setTriggers(n int) {
	if m != nil {
		m.triggers.Set(float64(n))
	}
}
