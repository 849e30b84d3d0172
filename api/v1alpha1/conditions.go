package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ConditionType is the type of a status condition.
type ConditionType string

// Condition types on ScaledObjects and ScaledJobs. Ready, Active, Fallback and Paused are
// KEDA's; PushHealthy is pushscale's and tells whether the triggers' sources push.
const (
	// ConditionReady is True when the object is correctly defined and its triggers can be read.
	ConditionReady ConditionType = "Ready"
	// ConditionActive is True while any trigger is active.
	ConditionActive ConditionType = "Active"
	// ConditionFallback is True while some metric is served its fallback value.
	ConditionFallback ConditionType = "Fallback"
	// ConditionPaused is True while any pause annotation is set.
	ConditionPaused ConditionType = "Paused"
	// ConditionPushHealthy is True while every trigger's source delivers push notifications;
	// False (with one of the PushHealthy reasons) when some trigger falls back to polling.
	ConditionPushHealthy ConditionType = "PushHealthy"
	// ConditionHPAActive mirrors the HPA's ScalingActive condition (KEDA 2.20.2+).
	ConditionHPAActive ConditionType = "HPAActive"
)

// Reasons of the Ready condition.
const (
	// ReasonScaledObjectReady: True, the ScaledObject is defined correctly and ready to scale.
	ReasonScaledObjectReady = "ScaledObjectReady"
	// ReasonScaledObjectCheckFailed: False, reconciling the ScaledObject failed.
	ReasonScaledObjectCheckFailed = "ScaledObjectCheckFailed"
	// ReasonScaledJobReady: True, the ScaledJob is defined correctly and ready to scale.
	ReasonScaledJobReady = "ScaledJobReady"
	// ReasonScaledJobCheckFailed: False, reconciling the ScaledJob failed.
	ReasonScaledJobCheckFailed = "ScaledJobCheckFailed"
	// ReasonTriggerError: False, inactive and every trigger fails, with no fallback.
	ReasonTriggerError = "TriggerError"
	// ReasonPartialTriggerError: Unknown, active but some triggers fail.
	ReasonPartialTriggerError = "PartialTriggerError"
	// ReasonErrorGettingCurrentReplicas: False, the target's replica count could not be read.
	ReasonErrorGettingCurrentReplicas = "ErrorGettingCurrentReplicas"
)

// Reasons of the Active condition.
const (
	// ReasonScalerActive: True, some trigger is active.
	ReasonScalerActive = "ScalerActive"
	// ReasonScalerNotActive: False, no trigger is active.
	ReasonScalerNotActive = "ScalerNotActive"
	// ReasonScalerCooldown: False, no trigger is active but the cooldown period has not passed.
	ReasonScalerCooldown = "ScalerCooldown"
	// ReasonUnknownState: Unknown, activity not known yet.
	ReasonUnknownState = "UnknownState"
)

// Reasons of the Fallback condition.
const (
	// ReasonFallbackExists: True, some metric failed more than fallback.failureThreshold times.
	ReasonFallbackExists = "FallbackExists"
	// ReasonNoFallbackFound: False, no metric is in fallback.
	ReasonNoFallbackFound = "NoFallbackFound"
)

// Reasons of the Paused condition.
const (
	ReasonScaledObjectPaused   = "ScaledObjectPaused"
	ReasonScaledObjectUnpaused = "ScaledObjectUnpaused"
	ReasonScaledJobPaused      = "ScaledJobPaused"
	ReasonScaledJobUnpaused    = "ScaledJobUnpaused"
)

// Reasons of the HPAActive condition; when False it carries the HPA's own reason.
const (
	ReasonHPAActive             = "HPAActive"
	ReasonScalingDisabled       = "ScalingDisabled"
	ReasonHPAMetricsUnavailable = "HPAMetricsUnavailable"
)

// Reasons of the PushHealthy condition (pushscale's). Subscribed and Tracking go with True; the
// others with False and say why the triggers are polled every pollingInterval instead.
const (
	// ReasonSubscribed: every trigger's source is subscribed to push notifications.
	ReasonSubscribed = "Subscribed"
	// ReasonTracking: every trigger's source pushes, and at least one Redis trigger through
	// server-assisted client tracking (CLIENT TRACKING) because the server's keyspace
	// notifications do not cover it.
	ReasonTracking = "Tracking"
	// ReasonNotificationsDisabled: the broker has notifications turned off (e.g. Redis
	// notify-keyspace-events).
	ReasonNotificationsDisabled = "NotificationsDisabled"
	// ReasonPermissionDenied: the credentials may not subscribe.
	ReasonPermissionDenied = "PermissionDenied"
	// ReasonSubscriptionLost: the subscription dropped and is being re-established.
	ReasonSubscriptionLost = "SubscriptionLost"
	// ReasonNotSupported: the source or trigger type has no push mechanism.
	ReasonNotSupported = "NotSupported"
	// ReasonDisabledByConfig: push was turned off by configuration.
	ReasonDisabledByConfig = "DisabledByConfig"
)

// Condition is one status condition. Its shape is KEDA's (no lastTransitionTime).
type Condition struct {
	// Type of the condition.
	Type ConditionType `json:"type"`
	// Status is True, False or Unknown.
	Status metav1.ConditionStatus `json:"status"`
	// Reason is a one-word CamelCase reason for the last transition.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message is a human-readable description of the last transition.
	// +optional
	Message string `json:"message,omitempty"`
}

// Conditions is the list of conditions of a status, at most one per type.
type Conditions []Condition

// InitConditions returns the conditions a new object starts with, as KEDA sets them:
// Ready, Active and Fallback Unknown, Paused False. Each call returns a new slice.
func InitConditions() Conditions {
	return Conditions{
		{Type: ConditionReady, Status: metav1.ConditionUnknown},
		{Type: ConditionActive, Status: metav1.ConditionUnknown},
		{Type: ConditionFallback, Status: metav1.ConditionUnknown},
		{Type: ConditionPaused, Status: metav1.ConditionFalse},
	}
}

// SetCondition sets the condition of type t, appending it if absent, and reports whether
// anything changed (so a caller writes status only when needed). It modifies c in place and is
// not safe for concurrent use on the same Conditions.
func (c *Conditions) SetCondition(t ConditionType, status metav1.ConditionStatus, reason, message string) bool {
	want := Condition{Type: t, Status: status, Reason: reason, Message: message}
	for i := range *c {
		if (*c)[i].Type != t {
			continue
		}
		if (*c)[i] == want {
			return false
		}
		(*c)[i] = want
		return true
	}
	*c = append(*c, want)
	return true
}

// GetCondition returns a copy of the condition of type t, and false if there is none.
func (c Conditions) GetCondition(t ConditionType) (Condition, bool) {
	for _, cond := range c {
		if cond.Type == t {
			return cond, true
		}
	}
	return Condition{}, false
}

// IsTrue reports whether the condition of type t is present with status True.
func (c Conditions) IsTrue(t ConditionType) bool {
	cond, ok := c.GetCondition(t)
	return ok && cond.Status == metav1.ConditionTrue
}
