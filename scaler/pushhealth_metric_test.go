package scaler

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/apimachinery/pkg/types"
)

// TestPushHealthCount: objects are counted under their latest status and
// reason, moving between series, and a series goes when its count is 0.
func TestPushHealthCount(t *testing.T) {
	p := newPushHealthCount()
	a, b := types.NamespacedName{Namespace: "ns", Name: "a"}, types.NamespacedName{Namespace: "ns", Name: "b"}
	p.set("ScaledObject", a, "True", "Subscribed")
	p.set("ScaledObject", b, "True", "Subscribed")
	p.set("ScaledObject", b, "True", "Subscribed") // unchanged: counted once
	if v := testutil.ToFloat64(p.gauge.WithLabelValues("ScaledObject", "True", "Subscribed")); v != 2 {
		t.Fatalf("Subscribed %v, want 2", v)
	}
	p.set("ScaledObject", b, "False", "SubscriptionLost")
	p.forget("ScaledObject", a)
	if n := testutil.CollectAndCount(p.gauge); n != 1 {
		t.Fatalf("%d series, want SubscriptionLost alone", n)
	}
	if v := testutil.ToFloat64(p.gauge.WithLabelValues("ScaledObject", "False", "SubscriptionLost")); v != 1 {
		t.Fatalf("SubscriptionLost %v, want 1", v)
	}
	p.forget("ScaledObject", b)
	p.forget("ScaledObject", b) // twice: no negative count
	if n := testutil.CollectAndCount(p.gauge); n != 0 {
		t.Fatalf("%d series after forgetting every object", n)
	}
}
