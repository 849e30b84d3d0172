package scaler

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	clocktesting "k8s.io/utils/clock/testing"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
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

// TestUnreconciledSkipsDeletedObjects: the first sync waits for the
// objects still there, not for those deleted or being deleted since (a
// namespace being deleted while the gateway starts kept it unready).
func TestUnreconciledSkipsDeletedObjects(t *testing.T) {
	inf := cache.NewSharedIndexInformer(&cache.ListWatch{}, &kedav1.ScaledObject{}, 0, cache.Indexers{})
	now := metav1.Now()
	for _, so := range []*kedav1.ScaledObject{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "done"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "waiting"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "deleting", DeletionTimestamp: &now, Finalizers: []string{"x"}}},
	} {
		if err := inf.GetIndexer().Add(so); err != nil {
			t.Fatal(err)
		}
	}
	c := &Controller{soInformer: inf, targets: map[types.NamespacedName]*target{{Namespace: "ns", Name: "done"}: {}}}
	if got := c.unreconciled([]string{"ns/done", "ns/waiting", "ns/deleting", "ns/gone"}); got != 1 {
		t.Errorf("unreconciled = %d, want 1 (ns/waiting)", got)
	}
}
