package scaler

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// recordingSource records Watch and Unwatch, and runs onWatch inside Watch.
type recordingSource struct {
	calls   []string
	onWatch func()
}

func (s *recordingSource) Parse(sources.Trigger) (sources.Spec, error) { return sources.Spec{}, nil }
func (s *recordingSource) Watch(t sources.Trigger) error {
	s.calls = append(s.calls, fmt.Sprintf("watch %d %s", t.Key.Trigger, t.Metadata["v"]))
	if s.onWatch != nil {
		s.onWatch()
	}
	return nil
}
func (s *recordingSource) Unwatch(k store.Key) {
	s.calls = append(s.calls, fmt.Sprintf("unwatch %d", k.Trigger))
}
func (s *recordingSource) Start(ctx context.Context) error { <-ctx.Done(); return nil }

// TestSetTriggersChangesOnlyWhatChanged: an edit of one trigger re-watches
// that trigger in place (no Unwatch: the source carries its state over,
// e.g. a webhook stream's arrivals); the others are not touched; a removed
// one is unwatched and its value dropped; and while the Watch runs, a
// concurrent decision still sees the old, complete set.
func TestSetTriggersChangesOnlyWhatChanged(t *testing.T) {
	src := &recordingSource{}
	st := store.New(nil)
	mgr, err := sources.NewManager(sources.Registry{{Name: "fake", Types: []string{"fake"}, New: func(sources.Deps) sources.Source { return src }}},
		sources.ManagerOptions{Sink: st})
	if err != nil {
		t.Fatal(err)
	}
	c := &Controller{opts: Options{Sources: mgr, Store: st}}
	owner := store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "so"}
	tg := &target{owner: owner, valid: true}
	w := func(i int, v string) watched {
		return watched{index: i, typ: "fake", trigger: sources.Trigger{Key: store.Key{Owner: owner, Trigger: i}, Type: "fake", Metadata: map[string]string{"v": v}}}
	}
	if err := c.setTriggers(tg, []watched{w(0, "a"), w(1, "b"), w(2, "c")}, "fp1"); err != nil {
		t.Fatal(err)
	}
	st.Record(store.Key{Owner: owner, Trigger: 2}, 7, time.Now())
	src.calls = nil
	var seen []int
	src.onWatch = func() {
		tg.mu.RLock()
		seen = append(seen, len(tg.triggers))
		tg.mu.RUnlock()
	}
	// Trigger 1 changes (a rotated secret, say), trigger 2 goes.
	if err := c.setTriggers(tg, []watched{w(0, "a"), w(1, "b2")}, "fp2"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"watch 1 b2", "unwatch 2"}; !slices.Equal(src.calls, want) {
		t.Errorf("calls %q, want %q", src.calls, want)
	}
	if !slices.Equal(seen, []int{3}) {
		t.Errorf("during the Watch a decision saw %v triggers, want the old 3", seen)
	}
	if len(tg.triggers) != 2 || tg.fingerprint != "fp2" || !tg.valid {
		t.Errorf("after: %d triggers, fingerprint %q, valid %v", len(tg.triggers), tg.fingerprint, tg.valid)
	}
	if _, ok := st.Get(store.Key{Owner: owner, Trigger: 2}); ok {
		t.Error("the removed trigger's value is still in the store")
	}

	// Failing: every trigger goes, and the target is invalid in the same step.
	src.calls, src.onWatch = nil, nil
	if err := c.setTriggers(tg, nil, ""); err != nil {
		t.Fatal(err)
	}
	if tg.triggers != nil || tg.valid {
		t.Errorf("cleared: triggers %v valid %v, want none and invalid", tg.triggers, tg.valid)
	}
	if want := []string{"unwatch 0", "unwatch 1"}; !slices.Equal(src.calls, want) {
		t.Errorf("calls %q, want %q", src.calls, want)
	}
}
