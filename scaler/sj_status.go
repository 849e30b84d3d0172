package scaler

import (
	"context"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// setJobPaused sets the Paused condition and field: True and "true" while
// autoscaling.keda.sh/paused is in effect.
func setJobPaused(status *kedav1.ScaledJobStatus, paused bool) {
	if paused {
		status.Conditions.SetCondition(kedav1.ConditionPaused, metav1.ConditionTrue, kedav1.ReasonScaledJobPaused, scaledJobPausedMessage)
		status.Paused = "true"
		return
	}
	status.Paused = ""
	if p, ok := status.Conditions.GetCondition(kedav1.ConditionPaused); !ok || p.Status == metav1.ConditionTrue || p.Reason == "" {
		status.Conditions.SetCondition(kedav1.ConditionPaused, metav1.ConditionFalse, kedav1.ReasonScaledJobUnpaused, scaledJobUnpausedMessage)
	}
}

// describeJob sets the status fields that describe the ScaledJob: trigger
// and authentication types (each once, in order, as KEDA lists them) and
// the watched triggers' metric names.
func describeJob(sj *kedav1.ScaledJob, status *kedav1.ScaledJobStatus, ws []watched) {
	var typs, auths []string
	for _, tr := range sj.Spec.Triggers {
		if !slices.Contains(typs, tr.Type) {
			typs = append(typs, tr.Type)
		}
		if tr.AuthenticationRef != nil && !slices.Contains(auths, tr.AuthenticationRef.Name) {
			auths = append(auths, tr.AuthenticationRef.Name)
		}
	}
	status.TriggersTypes, status.AuthenticationsTypes = strings.Join(typs, ","), strings.Join(auths, ",")
	status.ExternalMetricNames = nil
	for _, w := range ws {
		status.ExternalMetricNames = append(status.ExternalMetricNames, w.spec.MetricName)
	}
}

// setJobActivity sets Active (with KEDA's Events on a change) and, when
// triggers fail, Ready as KEDA does: Unknown PartialTriggerError while
// active, False TriggerError when every trigger fails.
func (j *jobs) setJobActivity(sj *kedav1.ScaledJob, status *kedav1.ScaledJobStatus, active, wasActive bool, failing, triggers int) {
	conds := &status.Conditions
	if active {
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionTrue, kedav1.ReasonScalerActive, "Scaling is performed because triggers are active")
		if !wasActive {
			j.c.event(sj, false, "ScaledJobActive", "Scaling is performed because triggers are active")
		}
	} else {
		conds.SetCondition(kedav1.ConditionActive, metav1.ConditionFalse, kedav1.ReasonScalerNotActive, "Scaling is not performed because triggers are not active")
		if wasActive {
			j.c.event(sj, false, "ScaledJobInactive", "Scaling is not performed because triggers are not active")
		}
	}
	switch {
	case failing == 0:
	case active:
		conds.SetCondition(kedav1.ConditionReady, metav1.ConditionUnknown, kedav1.ReasonPartialTriggerError, "Some triggers defined in ScaledJob are not working correctly")
	case failing == triggers:
		conds.SetCondition(kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonTriggerError, "Triggers defined in ScaledJob are not working correctly")
	}
}

// writeStatus patches the ScaledJob's status when it differs from what
// was last written (or, before any write, from the object's).
func (j *jobs) writeStatus(ctx context.Context, t *jobTarget, sj *kedav1.ScaledJob, status *kedav1.ScaledJobStatus) error {
	j.mu.Lock()
	prev := t.written
	j.mu.Unlock()
	if prev == nil {
		prev = &sj.Status
	}
	written, err := j.c.patchStatus(ctx, "scaledjobs", sj.Namespace, sj.Name, prev, status)
	if err != nil || !written {
		return err
	}
	j.mu.Lock()
	t.written = status
	if timeChanged(prev.LastActiveTime, status.LastActiveTime) {
		t.lastActiveAt = j.c.clock.Now()
	}
	j.mu.Unlock()
	return nil
}

// KEDA's messages of the Paused condition and Events of ScaledJobs.
const (
	scaledJobPausedMessage   = "ScaledJob is paused"
	scaledJobUnpausedMessage = "ScaledJob is unpaused"
)
