package kedametrics

import (
	"runtime"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushscale/pushscale/version"
)

// Kind is KEDA's "type" label of a scaled resource.
type Kind string

// The kinds of scaled resource.
const (
	ScaledObject Kind = "scaledobject"
	ScaledJob    Kind = "scaledjob"
)

// Object names a ScaledObject or ScaledJob.
type Object struct {
	Namespace, Name string
	Kind            Kind
}

// Trigger names one trigger of an object as KEDA's labels do.
type Trigger struct {
	Scaler string // trigger type, KEDA's "scaler" label
	Index  int    // position in the object's triggers
	Metric string // metric name served to the HPA
	// Pseudo marks a series that is not a trigger of its own (the
	// composite metric of scaling modifiers): it is not counted in
	// keda_trigger_registered_total.
	Pseudo bool
}

// Set holds KEDA's metrics. Its methods are safe for concurrent use. The
// exported vectors may be read (tests); write them only through the
// methods, which keep the index that deletes an object's series.
type Set struct {
	BuildInfo          *prometheus.GaugeVec
	ScalerValue        *prometheus.GaugeVec
	ScalerActive       *prometheus.GaugeVec
	ScalerErrors       *prometheus.CounterVec
	ScaledObjectErrors *prometheus.CounterVec
	ScaledJobErrors    *prometheus.CounterVec
	ScaledObjectPaused *prometheus.GaugeVec
	TriggerRegistered  *prometheus.GaugeVec
	ResourceRegistered *prometheus.GaugeVec

	mu        sync.Mutex
	objects   map[Object][]Trigger // declared triggers of each object
	triggers  map[string]int       // declared triggers by type
	resources map[resource]int     // declared objects by label values
}

// resource is the label values of keda_resource_registered_total.
type resource struct{ typ, namespace string }

// New creates the metrics, not registered; keda_build_info is set.
func New() *Set {
	trig := []string{"namespace", "metric", "scaledObject", "scaler", "triggerIndex", "type"}
	so := []string{"namespace", "scaledObject"}
	s := &Set{
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_build_info", Help: "Always 1: the running pushscale build, under KEDA's name and labels.",
		}, []string{"version", "git_commit", "goversion", "goos", "goarch"}),
		ScalerValue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_scaler_metrics_value", Help: "Value of a trigger's metric as last seen by the scaling decision (KEDA's name).",
		}, trig),
		ScalerActive: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_scaler_active", Help: "1 while a trigger's value is known, not failing and over its activation threshold, else 0 (KEDA's name).",
		}, trig),
		ScalerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keda_scaler_detail_errors_total", Help: "Failed reads of a trigger's broker resource (KEDA's name).",
		}, trig),
		ScaledObjectErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keda_scaled_object_errors_total", Help: "Failed trigger reads of a ScaledObject, all triggers together (KEDA's name).",
		}, so),
		ScaledJobErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keda_scaled_job_errors_total", Help: "Failed trigger reads and Job creations of a ScaledJob (KEDA's name).",
		}, []string{"namespace", "scaledJob"}),
		ScaledObjectPaused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_scaled_object_paused", Help: "1 while a pause annotation of a ScaledObject is in effect, else 0 (KEDA's name).",
		}, so),
		TriggerRegistered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_trigger_registered_total", Help: "Triggers of the managed ScaledObjects and ScaledJobs, by trigger type (KEDA's name).",
		}, []string{"type"}),
		ResourceRegistered: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "keda_resource_registered_total", Help: "Managed ScaledObjects (scaled_object) and ScaledJobs (scaled_job) per namespace (KEDA's name).",
		}, []string{"type", "namespace"}),
		objects:   map[Object][]Trigger{},
		triggers:  map[string]int{},
		resources: map[resource]int{},
	}
	s.BuildInfo.WithLabelValues(version.Version, version.Revision(), runtime.Version(), runtime.GOOS, runtime.GOARCH).Set(1)
	return s
}

// Collectors returns every metric of the set, for registering.
func (s *Set) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.BuildInfo, s.ScalerValue, s.ScalerActive, s.ScalerErrors, s.ScaledObjectErrors,
		s.ScaledJobErrors, s.ScaledObjectPaused, s.TriggerRegistered, s.ResourceRegistered}
}

// resourceType is KEDA's "type" label of keda_resource_registered_total.
func (k Kind) resourceType() string {
	if k == ScaledJob {
		return "scaled_job"
	}
	return "scaled_object"
}
