package clientgo

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/util/workqueue"
	_ "k8s.io/component-base/metrics/prometheus/workqueue" // sets the process-wide provider at init, as in the binary
	"k8s.io/klog/v2"
)

// TestWorkqueueMetricsEveryRegistry: each fresh registry (a new gateway
// run) gets the same collectors, registering twice in one registry is no
// error, and a named queue given the provider exports under the
// conventional names, although component-base (imported here as in the
// gateway binary) took the process-wide default at init.
func TestWorkqueueMetricsEveryRegistry(t *testing.T) {
	first, second := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	var mp workqueue.MetricsProvider
	for _, reg := range []*prometheus.Registry{first, second, second} {
		var err error
		if mp, err = WorkqueueMetrics(reg); err != nil {
			t.Fatalf("register: %v", err)
		}
	}
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "clientgo-test", MetricsProvider: mp})
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	q.AddRateLimited("c")
	item, _ := q.Get()
	q.Done(item)

	for _, reg := range []*prometheus.Registry{first, second} {
		if n := testutil.ToFloat64(queues.adds.WithLabelValues("clientgo-test")); n != 2 {
			t.Fatalf("workqueue_adds_total %v, want 2", n)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "name" && l.GetValue() == "clientgo-test" {
						got[mf.GetName()] = true
					}
				}
			}
		}
		for _, name := range []string{"workqueue_depth", "workqueue_adds_total", "workqueue_queue_duration_seconds",
			"workqueue_work_duration_seconds", "workqueue_unfinished_work_seconds",
			"workqueue_longest_running_processor_seconds", "workqueue_retries_total"} {
			if !got[name] {
				t.Errorf("%s{name=clientgo-test} not gathered", name)
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for klog's writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestKlogRoutedToSlog: a klog line lands as JSON in the run's logger,
// tagged component=klog; a second run's logger takes over, and restoring
// it hands klog back to the first.
func TestKlogRoutedToSlog(t *testing.T) {
	var one, two syncBuffer
	restoreOne := RouteKlog(slog.New(slog.NewJSONHandler(&one, nil)))
	defer restoreOne()
	klog.InfoS("watch started", "resource", "scaledobjects")
	klog.Flush()

	line := strings.TrimSpace(one.String())
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Fatalf("klog line %q is not JSON: %v", line, err)
	}
	if rec["msg"] != "watch started" || rec["resource"] != "scaledobjects" || rec["component"] != "klog" {
		t.Fatalf("klog line %v, want msg, resource and component=klog", rec)
	}

	restoreTwo := RouteKlog(slog.New(slog.NewJSONHandler(&two, nil)))
	klog.Info("second run")
	restoreTwo()
	klog.Info("back to the first")
	klog.Flush()
	if !strings.Contains(two.String(), "second run") || strings.Contains(two.String(), "back to the first") {
		t.Fatalf("second logger got %q", two.String())
	}
	if !strings.Contains(one.String(), "back to the first") || strings.Contains(one.String(), "second run") {
		t.Fatalf("first logger got %q", one.String())
	}
}
