package scaler

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler/kedametrics"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// TestCountExpectations: Jobs created but not shown by the informer count
// as running and pending until it shows them (or expectationTTL passes);
// Jobs being deleted do not count.
func TestCountExpectations(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	j := &jobs{
		c:           &Controller{clock: clk},
		jobInformer: cache.NewSharedIndexInformer(nil, &batchv1.Job{}, 0, cache.Indexers{byScaledJob: indexJobByScaledJob}),
		podInformer: cache.NewSharedIndexInformer(nil, &corev1.Pod{}, 0, cache.Indexers{byJob: indexPodByJob}),
	}
	sj := &kedav1.ScaledJob{ObjectMeta: metav1.ObjectMeta{Name: "sj", Namespace: "ns"}}
	job := func(name string, finished bool) *batchv1.Job {
		b := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{kedav1.LabelScaledJobName: "sj"}}}
		if finished {
			b.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
		}
		return b
	}
	running := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a-x", Namespace: "ns",
		OwnerReferences: []metav1.OwnerReference{{Kind: "Job", Name: "a", Controller: ptrBool(true)}}}, Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	if err := j.podInformer.GetIndexer().Add(running); err != nil {
		t.Fatal(err)
	}
	t0 := clk.Now()
	tg := &jobTarget{
		unseen:   map[string]time.Time{"new1": t0, "new2": t0, "b": t0},
		deleting: map[string]time.Time{"gone": t0, "old": t0},
	}
	all := []*batchv1.Job{job("a", false), job("b", false), job("done", true), job("old", false)}
	r, p, live := j.count(tg, sj, all)
	// a (its Pod runs), b (shown: its expectation settles; no Pod: pending),
	// new1 and new2 (unseen: running and pending); old is being deleted.
	if r != 4 || p != 3 || len(live) != 3 {
		t.Fatalf("running %d pending %d live %d, want 4, 3, 3", r, p, len(live))
	}
	if _, ok := tg.unseen["b"]; ok {
		t.Fatal("a shown Job is still expected")
	}
	if _, ok := tg.deleting["gone"]; ok {
		t.Fatal("a Job gone from the informer is still being deleted")
	}
	clk.Step(expectationTTL + time.Second)
	if r, p, _ = j.count(tg, sj, all); r != 2 || p != 1 {
		t.Fatalf("after the TTL: running %d pending %d, want 2, 1", r, p)
	}
}

// TestObserveScaledJobTrigger: a ScaledJob's trigger is exported under
// KEDA's names with type="scaledjob", and not as pushscale_metric_value
// (the HPA's, ScaledObjects' alone).
func TestObserveScaledJobTrigger(t *testing.T) {
	c := &Controller{opts: Options{Metrics: NewMetrics(nil)}}
	w := watched{index: 0, typ: "webhook", spec: sources.Spec{MetricName: "s0-webhook-items", Target: 1}}
	c.declareKeda("ns", "work", kedametrics.ScaledJob, []watched{w}, false)
	c.observeTrigger("ns", "work", kedametrics.ScaledJob, map[int]uint64{}, w, store.Entry{Known: true, Value: 4, FailedReads: 2})
	l := prometheus.Labels{"namespace": "ns", "scaledObject": "work", "scaler": "webhook", "triggerIndex": "0", "metric": "s0-webhook-items", "type": "scaledjob"}
	if v := testutil.ToFloat64(c.opts.Metrics.Keda.ScalerValue.With(l)); v != 4 {
		t.Fatalf("keda_scaler_metrics_value %v, want 4", v)
	}
	if v := testutil.ToFloat64(c.opts.Metrics.Keda.ScalerActive.With(l)); v != 1 {
		t.Fatalf("keda_scaler_active %v, want 1", v)
	}
	if v := testutil.ToFloat64(c.opts.Metrics.Keda.ScalerErrors.With(l)); v != 2 {
		t.Fatalf("keda_scaler_detail_errors_total %v, want 2", v)
	}
	if n := testutil.CollectAndCount(c.opts.Metrics.MetricValue); n != 0 {
		t.Fatalf("%d pushscale_metric_value series, want none", n)
	}
}
