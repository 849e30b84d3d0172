package v1alpha1

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/pushscale/pushscale/api/formula"
)

// FieldError is one failed check: the field path, its offending value as written in the
// manifest (strings quoted), and what is wrong, printed as `spec.idleReplicaCount 3: must be
// less than minReplicaCount 2`. Match it with errors.As.
type FieldError struct {
	// Field is the path of the field, e.g. spec.triggers[1].name.
	Field string
	// Value is the offending value, formatted: strings quoted, numbers and lists as written.
	Value string
	// Detail says what is wrong and what is expected.
	Detail string
}

// Error returns "<field> <value>: <detail>".
func (e *FieldError) Error() string {
	return e.Field + " " + e.Value + ": " + e.Detail
}

// The trigger types that are not external metrics but HPA resource metrics.
const (
	triggerTypeCPU    = "cpu"
	triggerTypeMemory = "memory"
	triggerTypeCron   = "cron"
)

func isResourceTrigger(t string) bool { return t == triggerTypeCPU || t == triggerTypeMemory }

// Validate performs KEDA's admission checks on a ScaledObject that need no API lookups, and
// the CRD's bounds (so objects that bypassed the API server, e.g. in tests, are checked too):
// name lengths, replica bounds, pollingInterval, triggers (at least one, unique names,
// useCachedMetrics, cpu/memory-only with scale to zero), fallback and scalingModifiers.
// Checks needing the cluster (target exists, one ScaledObject per target, HPA ownership,
// cpu/memory requests) are the controller's. It returns nil or all failures joined
// (errors.Join) as *FieldError.
func (so *ScaledObject) Validate() error {
	var v validator
	v.names(so)
	s := &so.Spec
	if s.ScaleTargetRef == nil || s.ScaleTargetRef.Name == "" {
		v.add("spec.scaleTargetRef.name", quote(""), "required")
	}
	v.intervals(s)
	v.replicas(s)
	v.triggers(s)
	v.fallback(s)
	v.scalingModifiers(s)
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

func (v *validator) add(field, value, detail string) {
	v.errs = append(v.errs, &FieldError{Field: field, Value: value, Detail: detail})
}

func quote(s string) string { return strconv.Quote(s) }

func itoa(n int32) string { return strconv.FormatInt(int64(n), 10) }

func (v *validator) names(so *ScaledObject) {
	if len(so.Name) > MaxNameLength {
		v.add("metadata.name", quote(so.Name), fmt.Sprintf("must be no more than %d characters", MaxNameLength))
	}
	hpa := so.HPAName()
	if len(hpa) <= MaxNameLength {
		return
	}
	if a := so.Spec.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil && a.HorizontalPodAutoscalerConfig.Name != "" {
		v.add("spec.advanced.horizontalPodAutoscalerConfig.name", quote(hpa), fmt.Sprintf("must be no more than %d characters", MaxNameLength))
		return
	}
	if len(so.Name) <= MaxNameLength { // else already reported above
		v.add("metadata.name", quote(so.Name), fmt.Sprintf("the HPA name %q derived from it must be no more than %d characters; shorten the name or set spec.advanced.horizontalPodAutoscalerConfig.name", hpa, MaxNameLength))
	}
}

func (v *validator) intervals(s *ScaledObjectSpec) {
	if p := s.PollingInterval; p != nil && *p < 1 {
		v.add("spec.pollingInterval", itoa(*p), "must be at least 1")
	}
	if p := s.CooldownPeriod; p != nil && *p < 0 {
		v.add("spec.cooldownPeriod", itoa(*p), "must not be negative")
	}
	if p := s.InitialCooldownPeriod; p != nil && *p < 0 {
		v.add("spec.initialCooldownPeriod", itoa(*p), "must not be negative")
	}
}

// replicas checks idle < min <= max as KEDA does: an explicit minReplicaCount of 0 stands for
// the HPA's floor of 1 in the idle comparison, so idleReplicaCount 0 with minReplicaCount 0 is
// admitted, while idleReplicaCount 0 with minReplicaCount unset is not.
func (v *validator) replicas(s *ScaledObjectSpec) {
	minR, maxR := s.MinReplicaCountOrDefault(), s.MaxReplicaCountOrDefault()
	if minR < 0 {
		v.add("spec.minReplicaCount", itoa(minR), "must not be negative")
	}
	if maxR < 1 {
		v.add("spec.maxReplicaCount", itoa(maxR), "must be at least 1")
	}
	if minR > maxR {
		v.add("spec.minReplicaCount", itoa(minR), "must not be greater than maxReplicaCount "+itoa(maxR))
	}
	if s.IdleReplicaCount == nil {
		return
	}
	idle := *s.IdleReplicaCount
	if idle < 0 {
		v.add("spec.idleReplicaCount", itoa(idle), "must not be negative")
		return
	}
	bound := minR
	if s.MinReplicaCount != nil {
		bound = s.HPAMinReplicas()
	}
	if idle >= bound {
		v.add("spec.idleReplicaCount", itoa(idle), "must be less than minReplicaCount "+itoa(minR))
	}
}

func (v *validator) triggers(s *ScaledObjectSpec) {
	if len(s.Triggers) == 0 {
		v.add("spec.triggers", "[]", "at least one trigger is required")
		return
	}
	byName := make(map[string]int, len(s.Triggers))
	onlyResource := true
	for i, t := range s.Triggers {
		path := fmt.Sprintf("spec.triggers[%d]", i)
		if t.Type == "" {
			v.add(path+".type", quote(""), "required")
		}
		if !isResourceTrigger(t.Type) {
			onlyResource = false
		}
		if t.UseCachedMetrics && (isResourceTrigger(t.Type) || t.Type == triggerTypeCron) {
			v.add(path+".useCachedMetrics", "true", fmt.Sprintf("not supported for %q triggers", t.Type))
		}
		v.uniqueName(byName, path, t.Name, i)
	}
	if onlyResource && s.MinReplicaCountOrDefault() == 0 {
		v.add("spec.minReplicaCount", itoa(s.MinReplicaCountOrDefault()),
			"must be at least 1 when every trigger is cpu or memory: they cannot scale to zero")
	}
}

// uniqueName checks that trigger i (at path) named name ("" is no name)
// is the only one so named; byName holds the names seen so far.
func (v *validator) uniqueName(byName map[string]int, path, name string, i int) {
	if name == "" {
		return
	}
	if j, dup := byName[name]; dup {
		v.add(path+".name", quote(name), fmt.Sprintf("must be unique, spec.triggers[%d] has the same name", j))
		return
	}
	byName[name] = i
}

func (v *validator) fallback(s *ScaledObjectSpec) {
	f := s.Fallback
	if f == nil {
		return
	}
	if f.FailureThreshold < 0 {
		v.add("spec.fallback.failureThreshold", itoa(f.FailureThreshold), "must not be negative")
	}
	if f.Replicas < 0 {
		v.add("spec.fallback.replicas", itoa(f.Replicas), "must not be negative")
	}
	switch b := f.BehaviorOrDefault(); b {
	case FallbackBehaviorStatic, FallbackBehaviorCurrentReplicas,
		FallbackBehaviorCurrentReplicasIfHigher, FallbackBehaviorCurrentReplicasIfLower:
	case FallbackBehaviorScalingModifiers:
		if a := s.Advanced; a == nil || a.ScalingModifiers == nil || a.ScalingModifiers.Formula == "" {
			v.add("spec.fallback.behavior", quote(b), "requires spec.advanced.scalingModifiers.formula")
		}
	default:
		v.add("spec.fallback.behavior", quote(b),
			"must be one of static, currentReplicas, currentReplicasIfHigher, currentReplicasIfLower, scalingModifiers")
	}
	var types []string
	for _, t := range s.Triggers {
		if !isResourceTrigger(t.Type) {
			return
		}
		types = append(types, t.Type)
	}
	v.add("spec.triggers", fmt.Sprintf("%q", types), "fallback requires at least one trigger that is not cpu or memory")
}

func (v *validator) scalingModifiers(s *ScaledObjectSpec) {
	if !s.UsesScalingModifiers() {
		return
	}
	const path = "spec.advanced.scalingModifiers"
	m := s.Advanced.ScalingModifiers
	if m.Formula == "" {
		v.add(path+".formula", quote(""), "required when scalingModifiers is set")
	} else if _, err := s.CompileFormula(); err != nil {
		v.add(path+".formula", quote(m.Formula), err.Error())
	}
	if m.Target == "" {
		if m.Formula != "" {
			v.add(path+".target", quote(""), "required with a formula")
		}
	} else if t, err := strconv.ParseFloat(m.Target, 64); err != nil || !(t > 0) || math.IsInf(t, 0) {
		v.add(path+".target", quote(m.Target), "must be a number greater than 0")
	}
	if a := m.ActivationTarget; a != "" {
		if t, err := strconv.ParseFloat(a, 64); err != nil || math.IsNaN(t) || math.IsInf(t, 0) {
			v.add(path+".activationTarget", quote(a), "must be a number")
		}
	}
	switch m.MetricType {
	case "", autoscalingv2.AverageValueMetricType, autoscalingv2.ValueMetricType:
	default:
		v.add(path+".metricType", quote(string(m.MetricType)), "must be AverageValue or Value")
	}
}

// FormulaTriggers returns the names the scalingModifiers formula may use: those of the
// triggers that are not cpu or memory, in order.
func (s *ScaledObjectSpec) FormulaTriggers() []string {
	var names []string
	for _, t := range s.Triggers {
		if t.Name != "" && !isResourceTrigger(t.Type) {
			names = append(names, t.Name)
		}
	}
	return names
}

// CompileFormula compiles advanced.scalingModifiers.formula over FormulaTriggers, as KEDA's
// admission webhook does: it must compile and yield a number with every trigger at -1.
func (s *ScaledObjectSpec) CompileFormula() (*formula.Formula, error) {
	if s.Advanced == nil || s.Advanced.ScalingModifiers == nil {
		return nil, errors.New("no scalingModifiers formula")
	}
	return formula.Compile(s.Advanced.ScalingModifiers.Formula, s.FormulaTriggers())
}
