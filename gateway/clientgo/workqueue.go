package clientgo

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
)

// queueMetrics is the process-wide collector set behind the workqueue
// provider, with the names and the "name" label client-go's workqueues
// conventionally export (as k8s.io/component-base and controller-runtime
// name them). Series of queues with the same name (a queue of an earlier
// run and its successor) are shared.
type queueMetrics struct {
	depth          *prometheus.GaugeVec
	adds           *prometheus.CounterVec
	latency        *prometheus.HistogramVec
	workDuration   *prometheus.HistogramVec
	unfinished     *prometheus.GaugeVec
	longestRunning *prometheus.GaugeVec
	retries        *prometheus.CounterVec
}

var (
	queuesOnce sync.Once
	queues     *queueMetrics
)

// WorkqueueMetrics registers the process-wide workqueue collectors in reg
// and returns the provider that feeds them, to pass to the queues one
// builds (workqueue.TypedRateLimitingQueueConfig.MetricsProvider). It is
// safe to call again with another registry, or the same one.
//
// It also offers the provider to client-go as the process-wide default
// (workqueue.SetProvider), which only the first caller in the process
// wins: in the gateway binary k8s.io/component-base's workqueue package
// (imported by the apiserver library) has already set its own at init,
// into its legacy registry, so queues built without an explicit provider
// do not appear here. Hence the explicit provider for pushscale's queues.
func WorkqueueMetrics(reg prometheus.Registerer) (workqueue.MetricsProvider, error) {
	queuesOnce.Do(func() {
		queues = newQueueMetrics()
		workqueue.SetProvider(queues)
	})
	for _, c := range queues.collectors() {
		if err := reg.Register(c); err != nil {
			if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
				continue
			}
			return nil, err
		}
	}
	return queues, nil
}

func newQueueMetrics() *queueMetrics {
	name := []string{"name"}
	// 10ns to 10s, as Kubernetes' own workqueue histograms.
	buckets := prometheus.ExponentialBuckets(10e-9, 10, 10)
	return &queueMetrics{
		depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "workqueue_depth", Help: "Items waiting in a client-go workqueue.",
		}, name),
		adds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workqueue_adds_total", Help: "Items added to a client-go workqueue.",
		}, name),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "workqueue_queue_duration_seconds", Help: "Time an item waited in a workqueue before a worker took it.", Buckets: buckets,
		}, name),
		workDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "workqueue_work_duration_seconds", Help: "Time a worker spent on one item of a workqueue.", Buckets: buckets,
		}, name),
		unfinished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "workqueue_unfinished_work_seconds", Help: "Seconds of work in progress not yet done, summed over a workqueue's busy workers; growing steadily means a stuck worker.",
		}, name),
		longestRunning: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "workqueue_longest_running_processor_seconds", Help: "Seconds the longest-running worker of a workqueue has been on its current item.",
		}, name),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workqueue_retries_total", Help: "Items re-added to a workqueue after a rate-limited retry.",
		}, name),
	}
}

func (m *queueMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.depth, m.adds, m.latency, m.workDuration, m.unfinished, m.longestRunning, m.retries}
}

// The workqueue.MetricsProvider methods: one child per queue name.

func (m *queueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return m.depth.WithLabelValues(name)
}

func (m *queueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return m.adds.WithLabelValues(name)
}

func (m *queueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return m.latency.WithLabelValues(name)
}

func (m *queueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return m.workDuration.WithLabelValues(name)
}

func (m *queueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return m.unfinished.WithLabelValues(name)
}

func (m *queueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return m.longestRunning.WithLabelValues(name)
}

func (m *queueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return m.retries.WithLabelValues(name)
}
