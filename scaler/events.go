package scaler

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"
)

// Limits on the Kubernetes Events the controller records, so that an
// object failing in a loop (a broken ScaledObject requeued with backoff, a
// scale write refused on every retry, PushHealthy flapping) cannot flood
// the apiserver. They apply per involved object, Event type and reason:
// one noisy reason never silences another, nor another object.
const (
	// EventBurst Events of one (object, type, reason) are recorded at once.
	EventBurst = 5
	// EventRefill is the time after which one more may be recorded once
	// the burst is spent (the budget refills continuously, up to the burst).
	EventRefill = 2 * time.Minute
	// EventAggregateAfter identical-reason Events with different messages
	// within EventAggregateWindow are merged into one "(combined from
	// similar events)" Event whose count grows.
	EventAggregateAfter  = 10
	EventAggregateWindow = 10 * time.Minute
)

// eventCorrelatorOptions configures client-go's event correlator (the
// spam filter and the aggregator in front of the apiserver sink) with the
// limits above. Events over the limit are dropped before any request.
// Identical Events within the limit are one Event with a growing count.
func eventCorrelatorOptions(clk clock.PassiveClock) record.CorrelatorOptions {
	return record.CorrelatorOptions{
		BurstSize:            EventBurst,
		QPS:                  float32(1 / EventRefill.Seconds()),
		SpamKeyFunc:          eventSpamKey,
		MaxEvents:            EventAggregateAfter,
		MaxIntervalInSeconds: int(EventAggregateWindow.Seconds()),
		Clock:                clk,
	}
}

// eventSpamKey is the rate limiter's key: client-go's default keys on the
// object alone, so 25 PushHealthy flaps would silence an activation.
func eventSpamKey(e *corev1.Event) string {
	o := e.InvolvedObject
	return strings.Join([]string{e.Source.Component, o.APIVersion, o.Kind, o.Namespace, o.Name, string(o.UID), e.Type, e.Reason}, "\x00")
}

// newEventBroadcaster returns the controller's broadcaster, rate-limited
// as above on clk.
func newEventBroadcaster(clk clock.PassiveClock) record.EventBroadcaster {
	return record.NewBroadcaster(record.WithCorrelatorOptions(eventCorrelatorOptions(clk)))
}
