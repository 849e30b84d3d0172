package kedametrics

import "github.com/prometheus/client_golang/prometheus"

// NewValidations returns KEDA's
// keda_webhook_scaled_object_validations_total{namespace,action},
// unregistered: ScaledObject creates and updates checked by the admission
// webhook (action "create" or "update"). Its companion
// keda_webhook_scaled_object_validation_errors_total is not exported: its
// reason label is KEDA's list of its own checks, which pushscale's checks
// do not map onto one to one.
func NewValidations() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keda_webhook_scaled_object_validations_total",
		Help: "ScaledObject creates and updates checked by the admission webhook, by namespace and action (KEDA's name).",
	}, []string{"namespace", "action"})
}
