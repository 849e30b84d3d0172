package certs

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of the certificates. Labels are bounded: server is one of the
// gateway's three TLS servers.
type Metrics struct {
	rotations prometheus.Counter
	expiry    *prometheus.GaugeVec
}

// NewMetrics registers the certificate metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		rotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pushscale_certificate_rotations_total",
			Help: "Serving certificates this replica issued and wrote to the certificate Secret (created, rotated or replaced).",
		}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushscale_certificate_expiry_timestamp_seconds",
			Help: "Expiry (NotAfter, Unix seconds) of the certificate each TLS server presents: metrics-api, admission, webhook.",
		}, []string{"server"}),
	}
	reg.MustRegister(m.rotations, m.expiry)
	return m
}

// Watch reports h's expiry under server; it is read on every scrape.
func (m *Metrics) Watch(server string, h *Holder) {
	if m == nil {
		return
	}
	h.onSet(func(notAfter float64) { m.expiry.WithLabelValues(server).Set(notAfter) })
}

func (m *Metrics) rotated() {
	if m != nil {
		m.rotations.Inc()
	}
}
