package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

func key(name string, trigger int) Key {
	return Key{Owner: Owner{Kind: ScaledObject, Namespace: "ns", Name: name, UID: types.UID("uid-" + name)}, Trigger: trigger}
}

type notes struct {
	mu  sync.Mutex
	got []Owner
}

func (n *notes) notify(o Owner) { n.mu.Lock(); n.got = append(n.got, o); n.mu.Unlock() }
func (n *notes) count() int     { n.mu.Lock(); defer n.mu.Unlock(); return len(n.got) }

func TestRecordAndFail(t *testing.T) {
	n := &notes{}
	s := New(n.notify)
	k := key("a", 0)
	if _, ok := s.Get(k); ok {
		t.Fatal("an empty store has an entry")
	}
	at := time.Unix(100, 0)
	steps := []struct {
		name     string
		do       func()
		want     Entry
		notified int
	}{
		{"first value makes it known", func() { s.Record(k, 3, at) }, Entry{Value: 3, Known: true, At: at}, 1},
		{"same value again does not notify", func() { s.Record(k, 3, at) }, Entry{Value: 3, Known: true, At: at}, 1},
		{"a failure keeps the value and counts", func() { s.Fail(k, errors.New("boom")) }, Entry{Value: 3, Known: true, At: at, Err: "boom", Failures: 1, FailedReads: 1}, 2},
		{"failures accumulate", func() { s.Fail(k, errors.New("boom")) }, Entry{Value: 3, Known: true, At: at, Err: "boom", Failures: 2, FailedReads: 2}, 3},
		{"a success resets the failures, not the total", func() { s.Record(k, 3, at) }, Entry{Value: 3, Known: true, At: at, FailedReads: 2}, 4},
		{"push health is recorded", func() { s.SetPush(k, Push{Healthy: true, Reason: "Subscribed"}) },
			Entry{Value: 3, Known: true, At: at, FailedReads: 2, Push: Push{Healthy: true, Reason: "Subscribed"}}, 5},
		{"same push health does not notify", func() { s.SetPush(k, Push{Healthy: true, Reason: "Subscribed"}) },
			Entry{Value: 3, Known: true, At: at, FailedReads: 2, Push: Push{Healthy: true, Reason: "Subscribed"}}, 5},
	}
	for _, st := range steps {
		st.do()
		got, _ := s.Get(k)
		if got != st.want {
			t.Fatalf("%s: entry %+v, want %+v", st.name, got, st.want)
		}
		if n.count() != st.notified {
			t.Fatalf("%s: %d notifications, want %d", st.name, n.count(), st.notified)
		}
	}
}

func TestOwnerRemoveForget(t *testing.T) {
	s := New(nil)
	a0, a1, b0 := key("a", 0), key("a", 1), key("b", 0)
	s.Record(a0, 1, time.Now())
	s.Record(a1, 2, time.Now())
	s.Record(b0, 3, time.Now())
	if got := s.Owner(a0.Owner); len(got) != 2 || got[1].Value != 2 {
		t.Fatalf("Owner(a) = %+v", got)
	}
	s.Remove(a1)
	if got := s.Owner(a0.Owner); len(got) != 1 {
		t.Fatalf("after Remove: %+v", got)
	}
	s.Forget(a0.Owner)
	if s.Len() != 1 {
		t.Fatalf("Len = %d after Forget, want 1", s.Len())
	}
	// A recreated object (new UID) never sees the old values.
	again := a0
	again.UID = "new"
	if _, ok := s.Get(again); ok {
		t.Fatal("a new UID sees an old entry")
	}
}

func TestReadsAreCopies(t *testing.T) {
	s := New(nil)
	k := key("a", 0)
	s.Record(k, 1, time.Now())
	m := s.Owner(k.Owner)
	e := m[0]
	e.Value = 99
	m[0] = e
	if got, _ := s.Get(k); got.Value != 1 {
		t.Fatal("a read changed the store")
	}
}

func TestConcurrentUse(t *testing.T) {
	n := &notes{}
	s := New(n.notify)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := key("a", i)
			for v := range 200 {
				s.Record(k, float64(v), time.Now())
				s.Get(k)
				s.Owner(k.Owner)
			}
		}()
	}
	wg.Wait()
	if got := s.Owner(key("a", 0).Owner); len(got) != 8 {
		t.Fatalf("%d entries, want 8", len(got))
	}
}

// TestRecordActive: a read's own activity is kept until a Record without
// one; ActiveOver falls back to the value.
func TestRecordActive(t *testing.T) {
	s := New(nil)
	k := Key{Owner: Owner{Kind: ScaledObject, Namespace: "ns", Name: "a"}}
	at := time.Now()
	s.RecordActive(k, 0, true, at)
	e, _ := s.Get(k)
	if e.Active == nil || !*e.Active || !e.ActiveOver(5) {
		t.Fatalf("after RecordActive(true): %+v", e)
	}
	s.RecordActive(k, 9, false, at)
	if e, _ = s.Get(k); e.ActiveOver(0) {
		t.Fatalf("after RecordActive(false) with 9: active")
	}
	s.Record(k, 9, at)
	if e, _ = s.Get(k); e.Active != nil || !e.ActiveOver(0) || e.ActiveOver(9) {
		t.Fatalf("after Record(9): %+v", e)
	}
}
