package scaler

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/pushscale/pushscale/store"
)

// TestReadyWaitsForFirstValuesAtMostFirstValueWait: a trigger with
// neither a value nor a failed read keeps the controller not ready after
// the sync, but for firstValueWait at most; a value makes it ready at once.
func TestReadyWaitsForFirstValuesAtMostFirstValueWait(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Unix(1000, 0))
	st := store.New(nil)
	owner := store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "so", UID: "uid"}
	c := &Controller{opts: Options{Store: st}, clock: clk, targets: map[types.NamespacedName]*target{
		{Namespace: "ns", Name: "so"}: {owner: owner, triggers: []watched{{index: 0}}},
	}}
	c.jobs = &jobs{c: c}
	if c.Ready() {
		t.Fatal("ready before the informers synced")
	}
	c.syncedAt.Store(clk.Now().UnixNano())
	if c.Ready() {
		t.Fatal("ready with a trigger that has no first value")
	}
	clk.Step(firstValueWait - time.Millisecond)
	if c.Ready() {
		t.Fatal("ready before firstValueWait")
	}
	clk.Step(time.Millisecond)
	if !c.Ready() {
		t.Fatal("not ready once firstValueWait has passed")
	}

	clk.SetTime(time.Unix(1000, 0))
	st.Record(store.Key{Owner: owner, Trigger: 0}, 0, clk.Now())
	if !c.Ready() {
		t.Fatal("not ready with every first value")
	}
}
