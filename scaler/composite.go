package scaler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/pushscale/pushscale/api/formula"
	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
)

// modifiers is a ScaledObject's advanced.scalingModifiers, parsed and
// compiled by the reconcile (Validate has checked every field).
type modifiers struct {
	formula    *formula.Formula
	target     float64
	activation float64
	metricType autoscalingv2.MetricTargetType
	// unsupported maps the names the formula uses that belong to triggers
	// pushscale does not implement to their types: while there is one, the
	// composite metric cannot be computed.
	unsupported map[string]string
}

// parseModifiers returns so's scalingModifiers, or nil when it has none.
// watched are the names of the triggers that are watched: a name the
// formula uses that is not among them is an unsupported trigger's.
func parseModifiers(so *kedav1.ScaledObject, watched map[string]bool) (*modifiers, error) {
	if !so.Spec.UsesScalingModifiers() {
		return nil, nil
	}
	sm := so.Spec.Advanced.ScalingModifiers
	f, err := so.Spec.CompileFormula()
	if err != nil {
		return nil, fmt.Errorf("spec.advanced.scalingModifiers.formula %q: %w", sm.Formula, err)
	}
	m := &modifiers{formula: f, metricType: sm.MetricTypeOrDefault()}
	if m.target, err = strconv.ParseFloat(sm.Target, 64); err != nil {
		return nil, fmt.Errorf("spec.advanced.scalingModifiers.target %q: %w", sm.Target, err)
	}
	if sm.ActivationTarget != "" {
		if m.activation, err = strconv.ParseFloat(sm.ActivationTarget, 64); err != nil {
			return nil, fmt.Errorf("spec.advanced.scalingModifiers.activationTarget %q: %w", sm.ActivationTarget, err)
		}
	}
	types := map[string]string{}
	for _, tr := range so.Spec.Triggers {
		types[tr.Name] = tr.Type
	}
	for _, n := range f.Uses() {
		if !watched[n] {
			if m.unsupported == nil {
				m.unsupported = map[string]string{}
			}
			m.unsupported[n] = types[n]
		}
	}
	return m, nil
}

// part is one watched trigger's share of the composite metric.
type part struct {
	name   string // the trigger's name: the formula's variable
	metric string // its own metric name, for messages
	entry  store.Entry
}

// unsupportedErr reports the unsupported triggers the formula needs.
func (m *modifiers) unsupportedErr() error {
	if len(m.unsupported) == 0 {
		return nil
	}
	var names []string
	for n, typ := range m.unsupported {
		names = append(names, fmt.Sprintf("%s (%s)", n, typ))
	}
	return fmt.Errorf("the formula needs trigger(s) of a type pushscale does not support: %s", strings.Join(names, ", "))
}

// activity computes what the 0↔1 decision knows of the composite metric,
// as KEDA's poll loop does: with every trigger read, the formula's value;
// a trigger without a value leaves it unknown, and a failing trigger
// leaves it to Decide, which sees the failure (KEDA: any error makes the
// object inactive). No fallback value enters the activity.
func (m *modifiers) activity(parts []part) *Composite {
	c := &Composite{Activation: m.activation}
	if err := m.unsupportedErr(); err != nil {
		c.Err = err.Error()
		return c
	}
	values := make(map[string]any, len(parts))
	for _, p := range parts {
		if p.entry.Failures > 0 || !p.entry.Known {
			return c
		}
		values[p.name] = p.entry.Value
	}
	v, err := m.formula.Eval(values)
	if err != nil {
		c.Err = err.Error()
		return c
	}
	c.Known, c.Value = true, v
	return c
}

// errFallbackUnavailable means the fallback value could not be computed (a
// Value target while no pod of the target is ready): the HPA holds, as
// with KEDA's "error performing fallback".
var errFallbackUnavailable = errors.New("cannot compute the fallback value")

// value answers the HPA's request for composite-metric, as KEDA's metrics
// server does (GetScaledObjectMetrics, fallback, HandleScalingModifiers):
//
//   - a trigger whose failures passed fallback.failureThreshold with
//     fallback.behavior static or currentReplicas*: the composite metric
//     itself falls back, to scalingModifiers.target × the fallback replica
//     count (divided by the ready pods for a Value target);
//   - with fallback.behavior scalingModifiers such a trigger enters the
//     formula as nil, for `??` to route around it; a formula that then
//     evaluates to nil falls back to fallback.replicas;
//   - any other failing trigger, or one without a value yet: an error, so
//     the HPA keeps its size;
//   - else the formula's value.
func (m *modifiers) value(parts []part, fb *kedav1.Fallback, current int32, ready func() (int32, error)) (float64, error) {
	values := make(map[string]any, len(parts))
	var problems []string
	falling := false
	for _, p := range parts {
		e := p.entry
		switch {
		case e.Failures == 0 && e.Known:
			values[p.name] = e.Value
		case e.Failures == 0:
			problems = append(problems, fmt.Sprintf("trigger %s (%s) has no value yet", p.name, p.metric))
		case inFallback(fb, e.Failures) && fb.BehaviorOrDefault() == kedav1.FallbackBehaviorScalingModifiers:
			values[p.name] = nil
		case inFallback(fb, e.Failures):
			falling = true
		default:
			problems = append(problems, fmt.Sprintf("trigger %s (%s): reading it failed %d time(s): %s", p.name, p.metric, e.Failures, e.Err))
		}
	}
	if falling {
		return fallbackMetric(m.target, fallbackReplicas(fb, current), m.metricType, ready)
	}
	if len(problems) > 0 {
		return 0, errors.New(strings.Join(problems, "; "))
	}
	if err := m.unsupportedErr(); err != nil {
		return 0, err
	}
	v, err := m.formula.Eval(values)
	if errors.Is(err, formula.ErrNil) && fb != nil {
		return fallbackMetric(m.target, fb.Replicas, m.metricType, ready)
	}
	return v, err
}
