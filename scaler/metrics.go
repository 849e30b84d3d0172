package scaler

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the scaler's Prometheus metrics, with the names of DESIGN.md
// and, for drop-in dashboards, KEDA's.
type Metrics struct {
	MetricValue    *prometheus.GaugeVec     // pushscale_metric_value
	ScaleActions   *prometheus.CounterVec   // pushscale_scale_actions_total
	EventToScale   *prometheus.HistogramVec // pushscale_event_to_scale_seconds
	KedaValue      *prometheus.GaugeVec     // keda_scaler_metrics_value
	KedaActive     *prometheus.GaugeVec     // keda_scaler_active
	KedaErrors     *prometheus.CounterVec   // keda_scaler_errors_total
	KedaPaused     *prometheus.GaugeVec     // keda_scaled_object_paused
	ScaledObjects  prometheus.Gauge         // pushscale_scaled_objects
	ReconcileError *prometheus.CounterVec   // pushscale_reconcile_errors_total
	StatusWrites   prometheus.Counter       // pushscale_status_writes_total
	// ScaledJobErrors is keda_scaled_job_errors_total{namespace,scaledJob}:
	// failed trigger reads and Job creations of a ScaledJob.
	ScaledJobErrors *prometheus.CounterVec
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
		KedaValue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_scaler_metrics_value", Help: "Current value of each trigger's metric (KEDA's name).",
		}, []string{"namespace", "scaledObject", "scaler", "triggerIndex", "metric", "type"}),
		KedaActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_scaler_active", Help: "1 while a trigger is active, else 0 (KEDA's name).",
		}, []string{"namespace", "scaledObject", "scaler", "triggerIndex", "metric", "type"}),
		KedaErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keda_scaler_errors_total", Help: "Failed reads of a trigger's value (KEDA's name).",
		}, []string{"namespace", "scaledObject", "scaler", "triggerIndex", "metric", "type"}),
		KedaPaused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_scaled_object_paused", Help: "1 while a ScaledObject is paused (KEDA's name).",
		}, []string{"namespace", "scaledObject"}),
		ScaledObjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pushscale_scaled_objects", Help: "ScaledObjects the gateway scales.",
		}),
		ReconcileError: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_reconcile_errors_total", Help: "Failed reconciles, by kind.",
		}, []string{"kind"}),
		StatusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pushscale_status_writes_total", Help: "Status patches written to ScaledObjects and ScaledJobs (only on change).",
		}),
		ScaledJobErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keda_scaled_job_errors_total", Help: "Errors of a ScaledJob: failed trigger reads and Job creations (KEDA's name).",
		}, []string{"namespace", "scaledJob"}),
		JobsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_jobs_created_total", Help: "Jobs created by a ScaledJob.",
		}, []string{"namespace", "scaledJob"}),
	}
	if reg != nil {
		reg.MustRegister(m.StatusWrites, m.MetricValue, m.ScaleActions, m.EventToScale, m.KedaValue, m.KedaActive, m.KedaErrors, m.KedaPaused, m.ScaledObjects, m.ReconcileError, m.ScaledJobErrors, m.JobsCreated)
	}
	return m
}
