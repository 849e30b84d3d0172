package kedametrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	so    = Object{Namespace: "ns", Name: "orders", Kind: ScaledObject}
	sj    = Object{Namespace: "ns", Name: "orders", Kind: ScaledJob}
	hook  = Trigger{Scaler: "webhook", Index: 0, Metric: "s0-webhook-orders"}
	redis = Trigger{Scaler: "redis", Index: 1, Metric: "s1-redis-orders"}
)

// series counts the series of every metric of s, by name.
func series(t *testing.T, s *Set) map[string]int {
	t.Helper()
	mfs, err := registry(s).Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, mf := range mfs {
		n[mf.GetName()] = len(mf.GetMetric())
	}
	return n
}

func TestRecordsUnderKedaLabels(t *testing.T) {
	s := New()
	s.Declare(so, []Trigger{hook, redis})
	s.RecordValue(so, hook, 7)
	s.RecordActive(so, hook, true)
	s.RecordErrors(so, redis, 3)
	s.RecordPaused(so, false)

	want := `
# HELP keda_scaler_metrics_value Value of a trigger's metric as last seen by the scaling decision (KEDA's name).
# TYPE keda_scaler_metrics_value gauge
keda_scaler_metrics_value{metric="s0-webhook-orders",namespace="ns",scaledObject="orders",scaler="webhook",triggerIndex="0",type="scaledobject"} 7
# HELP keda_scaler_active 1 while a trigger's value is known, not failing and over its activation threshold, else 0 (KEDA's name).
# TYPE keda_scaler_active gauge
keda_scaler_active{metric="s0-webhook-orders",namespace="ns",scaledObject="orders",scaler="webhook",triggerIndex="0",type="scaledobject"} 1
# HELP keda_scaler_detail_errors_total Failed reads of a trigger's broker resource (KEDA's name).
# TYPE keda_scaler_detail_errors_total counter
keda_scaler_detail_errors_total{metric="s0-webhook-orders",namespace="ns",scaledObject="orders",scaler="webhook",triggerIndex="0",type="scaledobject"} 0
keda_scaler_detail_errors_total{metric="s1-redis-orders",namespace="ns",scaledObject="orders",scaler="redis",triggerIndex="1",type="scaledobject"} 3
# HELP keda_scaled_object_errors_total Failed trigger reads of a ScaledObject, all triggers together (KEDA's name).
# TYPE keda_scaled_object_errors_total counter
keda_scaled_object_errors_total{namespace="ns",scaledObject="orders"} 3
# HELP keda_scaled_object_paused 1 while a pause annotation of a ScaledObject is in effect, else 0 (KEDA's name).
# TYPE keda_scaled_object_paused gauge
keda_scaled_object_paused{namespace="ns",scaledObject="orders"} 0
# HELP keda_trigger_registered_total Triggers of the managed ScaledObjects and ScaledJobs, by trigger type (KEDA's name).
# TYPE keda_trigger_registered_total gauge
keda_trigger_registered_total{type="redis"} 1
keda_trigger_registered_total{type="webhook"} 1
# HELP keda_resource_registered_total Managed ScaledObjects (scaled_object) and ScaledJobs (scaled_job) per namespace (KEDA's name).
# TYPE keda_resource_registered_total gauge
keda_resource_registered_total{namespace="ns",type="scaled_object"} 1
`
	if err := testutil.GatherAndCompare(registry(s), strings.NewReader(want),
		"keda_scaler_metrics_value", "keda_scaler_active", "keda_scaler_detail_errors_total", "keda_scaled_object_errors_total",
		"keda_scaled_object_paused", "keda_trigger_registered_total", "keda_resource_registered_total"); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(s.BuildInfo, "keda_build_info"); n != 1 {
		t.Fatalf("%d keda_build_info series, want 1", n)
	}
}

// registry registers every metric of s in a registry of its own.
func registry(s *Set) *prometheus.Registry {
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(s.Collectors()...)
	return reg
}

func TestForgetDeletesEverySeries(t *testing.T) {
	s := New()
	other := Object{Namespace: "ns", Name: "payments", Kind: ScaledObject}
	for _, o := range []Object{so, sj, other} {
		s.Declare(o, []Trigger{hook})
		s.RecordValue(o, hook, 1)
		s.RecordActive(o, hook, true)
		s.RecordPaused(o, true)
		s.RecordJobErrors(o, 2)
	}
	s.Forget(so)
	s.Forget(sj)
	got := series(t, s)
	want := map[string]int{
		"keda_build_info": 1, "keda_scaler_metrics_value": 1, "keda_scaler_active": 1, "keda_scaler_detail_errors_total": 1,
		"keda_scaled_object_errors_total": 1, "keda_scaled_object_paused": 1, "keda_trigger_registered_total": 1,
		"keda_resource_registered_total": 1,
	}
	for name, n := range want {
		if got[name] != n {
			t.Errorf("%s: %d series after forgetting two of three objects, want %d", name, got[name], n)
		}
	}
	if got["keda_scaled_job_errors_total"] != 0 {
		t.Errorf("keda_scaled_job_errors_total: %d series of a forgotten ScaledJob", got["keda_scaled_job_errors_total"])
	}
	if v := testutil.ToFloat64(s.TriggerRegistered.WithLabelValues("webhook")); v != 1 {
		t.Errorf("keda_trigger_registered_total{type=webhook} %v, want 1", v)
	}

	// A record racing with Forget (a decision still running) makes no
	// series again.
	s.RecordValue(so, hook, 5)
	s.RecordErrors(so, hook, 1)
	s.RecordPaused(so, true)
	if got := series(t, s); got["keda_scaler_metrics_value"] != 1 || got["keda_scaled_object_paused"] != 1 {
		t.Errorf("records after Forget made series: %v", got)
	}
}

func TestDeclareDropsRemovedTriggers(t *testing.T) {
	s := New()
	s.Declare(so, []Trigger{hook, redis})
	s.RecordValue(so, redis, 4)
	s.Declare(so, []Trigger{hook})
	got := series(t, s)
	if got["keda_scaler_metrics_value"] != 0 || got["keda_scaler_detail_errors_total"] != 1 {
		t.Errorf("series after the redis trigger was removed: %v", got)
	}
	if got["keda_trigger_registered_total"] != 1 {
		t.Errorf("keda_trigger_registered_total: %d types, want webhook alone", got["keda_trigger_registered_total"])
	}
	// The composite metric is a series, not a registered trigger.
	s.Declare(so, []Trigger{hook, {Scaler: "composite-metric", Metric: "composite-metric", Pseudo: true}})
	if n := testutil.CollectAndCount(s.TriggerRegistered); n != 1 {
		t.Errorf("keda_trigger_registered_total: %d types with a composite metric, want 1", n)
	}
}

func TestScaledJobErrors(t *testing.T) {
	s := New()
	s.Declare(sj, []Trigger{hook})
	if v := testutil.ToFloat64(s.ScaledJobErrors.WithLabelValues("ns", "orders")); v != 0 {
		t.Fatalf("keda_scaled_job_errors_total %v before any error, want 0", v)
	}
	s.RecordErrors(sj, hook, 2) // a trigger's own counter, not the ScaledObject's
	s.RecordJobErrors(sj, 3)
	if v := testutil.ToFloat64(s.ScaledJobErrors.WithLabelValues("ns", "orders")); v != 3 {
		t.Errorf("keda_scaled_job_errors_total %v, want 3", v)
	}
	if n := testutil.CollectAndCount(s.ScaledObjectErrors); n != 0 {
		t.Errorf("a ScaledJob made %d keda_scaled_object_errors_total series", n)
	}
}
