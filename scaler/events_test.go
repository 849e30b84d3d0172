package scaler

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
)

func testEvent(clk *clocktesting.FakeClock, name, typ, reason, msg string) *corev1.Event {
	now := metav1.NewTime(clk.Now())
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%d", name, clk.Now().UnixNano()), Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject", Namespace: "ns",
			Name: name, UID: types.UID("uid-" + name)},
		Source: corev1.EventSource{Component: "pushscale"},
		Type:   typ, Reason: reason, Message: msg,
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}
}

// recorded feeds n Events to c and counts those that would reach the
// apiserver (created or patched).
func recorded(t *testing.T, c *record.EventCorrelator, n int, ev func() *corev1.Event) int {
	t.Helper()
	sent := 0
	for range n {
		r, err := c.EventCorrelate(ev())
		if err != nil {
			t.Fatal(err)
		}
		if !r.Skip {
			sent++
		}
	}
	return sent
}

func TestEventsRateLimitedPerObjectAndReason(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	c := record.NewEventCorrelatorWithOptions(eventCorrelatorOptions(clk))
	failed := func() *corev1.Event {
		return testEvent(clk, "broken", corev1.EventTypeWarning, "KEDAScaleTargetActivationFailed", "Failed to scale: conflict")
	}

	if got := recorded(t, c, 50, failed); got != EventBurst {
		t.Fatalf("50 identical Events in a burst: %d reach the apiserver, want %d", got, EventBurst)
	}
	// Another reason of the same object, and the same reason of another
	// object, have budgets of their own.
	if got := recorded(t, c, 1, func() *corev1.Event {
		return testEvent(clk, "broken", corev1.EventTypeWarning, "PushHealthyFalse", "SubscriptionLost")
	}); got != 1 {
		t.Fatalf("another reason on the same object was dropped")
	}
	if got := recorded(t, c, 1, func() *corev1.Event {
		return testEvent(clk, "healthy", corev1.EventTypeWarning, "KEDAScaleTargetActivationFailed", "Failed to scale: conflict")
	}); got != 1 {
		t.Fatalf("the same reason on another object was dropped")
	}
	// Just before the refill nothing more passes; at it, exactly one.
	clk.Step(EventRefill - time.Second)
	if got := recorded(t, c, 5, failed); got != 0 {
		t.Fatalf("%d Events passed before the refill", got)
	}
	clk.Step(time.Second)
	if got := recorded(t, c, 5, failed); got != 1 {
		t.Fatalf("%d Events passed after one refill period, want 1", got)
	}
	// A long quiet spell refills the budget up to the burst, no further.
	clk.Step(100 * EventRefill)
	if got := recorded(t, c, 50, failed); got != EventBurst {
		t.Fatalf("after a long pause %d Events passed, want the burst %d", got, EventBurst)
	}
}

func TestEventsFlappingIsBounded(t *testing.T) {
	// PushHealthy flapping every second for an hour: two reasons, each
	// held to its burst plus one per EventRefill.
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	c := record.NewEventCorrelatorWithOptions(eventCorrelatorOptions(clk))
	sent := 0
	for i := range 3600 {
		reason, typ := "PushHealthyTrue", corev1.EventTypeNormal
		if i%2 == 1 {
			reason, typ = "PushHealthyFalse", corev1.EventTypeWarning
		}
		sent += recorded(t, c, 1, func() *corev1.Event { return testEvent(clk, "flappy", typ, reason, "Subscribed") })
		clk.Step(time.Second)
	}
	maxPerReason := EventBurst + int(time.Hour/EventRefill) + 1
	if sent > 2*maxPerReason {
		t.Fatalf("an hour of flapping sent %d Events, want at most %d", sent, 2*maxPerReason)
	}
	if sent < 2*EventBurst {
		t.Fatalf("an hour of flapping sent only %d Events: the limiter is too strict", sent)
	}
}

func TestEventsSimilarMessagesAggregate(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	c := record.NewEventCorrelatorWithOptions(eventCorrelatorOptions(clk))
	var last *corev1.Event
	for i := range EventAggregateAfter + 2 {
		clk.Step(EventRefill) // within the rate limit, so only aggregation acts
		r, err := c.EventCorrelate(testEvent(clk, "so", corev1.EventTypeWarning, "KEDAScalerFailed", fmt.Sprintf("read %d failed", i)))
		if err != nil || r.Skip {
			t.Fatalf("event %d: err %v skip %v", i, err, r.Skip)
		}
		last = r.Event
	}
	if want := "(combined from similar events)"; len(last.Message) < len(want) || last.Message[:len(want)] != want {
		t.Fatalf("after %d similar Events the message is %q, want it combined", EventAggregateAfter+2, last.Message)
	}
}
