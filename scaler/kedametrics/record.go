package kedametrics

import (
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
)

// Declare states the current triggers of object o: the first call counts
// the object in keda_resource_registered_total and exports its error
// counters at 0; triggers not declared any more lose their series, new ones
// get theirs (errors at 0) and are counted in keda_trigger_registered_total.
// Records of an undeclared object or trigger are dropped, so a record that
// races with Forget leaves no stale series.
func (s *Set) Declare(o Object, ts []Trigger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, known := s.objects[o]
	if known && slices.Equal(old, ts) {
		return
	}
	if !known {
		s.countResource(o, 1)
		s.objectErrors(o, 0)
	}
	for _, t := range old {
		if !slices.Contains(ts, t) {
			s.dropTrigger(o, t)
		}
	}
	for _, t := range ts {
		if !slices.Contains(old, t) {
			s.ScalerErrors.With(labels(o, t)).Add(0)
			s.countTrigger(t, 1)
		}
	}
	s.objects[o] = slices.Clone(ts)
}

// Forget deletes every series of object o (it was deleted or is not
// managed any more) and uncounts it and its triggers.
func (s *Set) Forget(o Object) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, known := s.objects[o]
	if !known {
		return
	}
	delete(s.objects, o)
	for _, t := range ts {
		s.dropTrigger(o, t)
	}
	obj := prometheus.Labels{"namespace": o.Namespace, "scaledObject": o.Name}
	if o.Kind == ScaledJob {
		s.ScaledJobErrors.Delete(prometheus.Labels{"namespace": o.Namespace, "scaledJob": o.Name})
	} else {
		s.ScaledObjectErrors.Delete(obj)
		s.ScaledObjectPaused.Delete(obj)
	}
	s.countResource(o, -1)
}

// RecordValue sets keda_scaler_metrics_value of trigger t of o.
func (s *Set) RecordValue(o Object, t Trigger, v float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.declared(o, t) {
		s.ScalerValue.With(labels(o, t)).Set(v)
	}
}

// RecordActive sets keda_scaler_active of trigger t of o.
func (s *Set) RecordActive(o Object, t Trigger, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.declared(o, t) {
		s.ScalerActive.With(labels(o, t)).Set(boolValue(active))
	}
}

// RecordErrors adds n failed reads of trigger t of o: to
// keda_scaler_detail_errors_total and, for a ScaledObject, to
// keda_scaled_object_errors_total.
func (s *Set) RecordErrors(o Object, t Trigger, n uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == 0 || !s.declared(o, t) {
		return
	}
	s.ScalerErrors.With(labels(o, t)).Add(float64(n))
	if o.Kind == ScaledObject {
		s.objectErrors(o, float64(n))
	}
}

// RecordJobErrors adds n errors (failed trigger reads, failed Job
// creations) to keda_scaled_job_errors_total of ScaledJob o.
func (s *Set) RecordJobErrors(o Object, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[o]; ok && o.Kind == ScaledJob && n > 0 {
		s.objectErrors(o, float64(n))
	}
}

// RecordPaused sets keda_scaled_object_paused of ScaledObject o.
func (s *Set) RecordPaused(o Object, paused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[o]; ok && o.Kind == ScaledObject {
		s.ScaledObjectPaused.WithLabelValues(o.Namespace, o.Name).Set(boolValue(paused))
	}
}

// declared reports whether t is a declared trigger of o. s.mu is held.
func (s *Set) declared(o Object, t Trigger) bool {
	return slices.Contains(s.objects[o], t)
}

// objectErrors adds n to the object-level error counter of o. s.mu is held.
func (s *Set) objectErrors(o Object, n float64) {
	if o.Kind == ScaledJob {
		s.ScaledJobErrors.WithLabelValues(o.Namespace, o.Name).Add(n)
		return
	}
	s.ScaledObjectErrors.WithLabelValues(o.Namespace, o.Name).Add(n)
}

// dropTrigger deletes the series of trigger t of o and uncounts it. s.mu
// is held.
func (s *Set) dropTrigger(o Object, t Trigger) {
	l := labels(o, t)
	s.ScalerValue.Delete(l)
	s.ScalerActive.Delete(l)
	s.ScalerErrors.Delete(l)
	s.countTrigger(t, -1)
}

// countTrigger moves keda_trigger_registered_total of t's type by d,
// deleting the series at 0. s.mu is held.
func (s *Set) countTrigger(t Trigger, d int) {
	if t.Pseudo || t.Scaler == "" {
		return
	}
	n := s.triggers[t.Scaler] + d
	if n <= 0 {
		delete(s.triggers, t.Scaler)
		s.TriggerRegistered.DeleteLabelValues(t.Scaler)
		return
	}
	s.triggers[t.Scaler] = n
	s.TriggerRegistered.WithLabelValues(t.Scaler).Set(float64(n))
}

// countResource moves keda_resource_registered_total of o's kind and
// namespace by d, deleting the series at 0. s.mu is held.
func (s *Set) countResource(o Object, d int) {
	k := resource{o.Kind.resourceType(), o.Namespace}
	n := s.resources[k] + d
	if n <= 0 {
		delete(s.resources, k)
		s.ResourceRegistered.DeleteLabelValues(k.typ, k.namespace)
		return
	}
	s.resources[k] = n
	s.ResourceRegistered.WithLabelValues(k.typ, k.namespace).Set(float64(n))
}

func labels(o Object, t Trigger) prometheus.Labels {
	return prometheus.Labels{"namespace": o.Namespace, "metric": t.Metric, "scaledObject": o.Name,
		"scaler": t.Scaler, "triggerIndex": strconv.Itoa(t.Index), "type": string(o.Kind)}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
