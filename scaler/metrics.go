package scaler

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushscale/pushscale/scaler/kedametrics"
)

// Metrics are the scaler's Prometheus metrics, with the names of DESIGN.md
// and, for drop-in dashboards, KEDA's (package kedametrics).
type Metrics struct {
	MetricValue    *prometheus.GaugeVec     // pushscale_metric_value
	ScaleActions   *prometheus.CounterVec   // pushscale_scale_actions_total
	EventToScale   *prometheus.HistogramVec // pushscale_event_to_scale_seconds
	ScaledObjects  prometheus.Gauge         // pushscale_scaled_objects
	ReconcileError *prometheus.CounterVec   // pushscale_reconcile_errors_total
	StatusWrites   prometheus.Counter       // pushscale_status_writes_total
	// PushHealth is pushscale_push_health{kind,status,reason}.
	PushHealth *pushHealthCount
	// Keda is KEDA 2.20's metric set, fed by the same events.
	Keda *kedametrics.Set
	// JobsCreated is pushscale_jobs_created_total{namespace,scaledJob}.
	JobsCreated *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	objLabels := []string{"namespace", "scaledObject", "trigger", "metric"}
	m := &Metrics{
		MetricValue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushscale_metric_value", Help: "Current value of each trigger's metric, as served to the HPA.",
		}, objLabels),
		ScaleActions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_scale_actions_total", Help: "Writes to a scale target's /scale made by the activator, by direction (up: 0 to 1 or min, down: to 0 or idle).",
		}, []string{"namespace", "scaledObject", "direction"}),
		EventToScale: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "pushscale_event_to_scale_seconds",
			Help:    "Time from the value that made a target active being recorded to its /scale write completing.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"source"}),
		ScaledObjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pushscale_scaled_objects", Help: "ScaledObjects the gateway scales.",
		}),
		ReconcileError: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_reconcile_errors_total", Help: "Failed reconciles, by kind.",
		}, []string{"kind"}),
		StatusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pushscale_status_writes_total", Help: "Status patches written to ScaledObjects and ScaledJobs (only on change).",
		}),
		JobsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_jobs_created_total", Help: "Jobs created by a ScaledJob.",
		}, []string{"namespace", "scaledJob"}),
		PushHealth: newPushHealthCount(),
		Keda:       kedametrics.New(),
	}
	if reg != nil {
		reg.MustRegister(m.StatusWrites, m.MetricValue, m.ScaleActions, m.EventToScale, m.ScaledObjects, m.ReconcileError, m.JobsCreated, m.PushHealth.gauge)
		reg.MustRegister(m.Keda.Collectors()...)
	}
	return m
}
