// Package sourcetest holds test helpers for sources: a fake Sink that
// records every call, and Conformance, the checks every source's tests run.
package sourcetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Op is the Sink method a Call was made to.
type Op string

// The Sink methods.
const (
	OpRecord  Op = "Record"
	OpFail    Op = "Fail"
	OpSetPush Op = "SetPush"
)

// Call is one call made to a Sink.
type Call struct {
	Op    Op
	Key   store.Key
	Value float64    // Record
	At    time.Time  // Record
	Err   string     // Fail
	Push  store.Push // SetPush

	// Active is the activity a Record's read decided (RecordActive); nil
	// for none.
	Active *bool
}

func (c Call) String() string {
	k := fmt.Sprintf("%s %s/%s[%d]", c.Key.Kind, c.Key.Namespace, c.Key.Name, c.Key.Trigger)
	switch c.Op {
	case OpRecord:
		if c.Active != nil {
			return fmt.Sprintf("Record(%s, %g, active=%t)", k, c.Value, *c.Active)
		}
		return fmt.Sprintf("Record(%s, %g)", k, c.Value)
	case OpFail:
		return fmt.Sprintf("Fail(%s, %q)", k, c.Err)
	default:
		return fmt.Sprintf("SetPush(%s, %+v)", k, c.Push)
	}
}

// Sink is a sources.Sink that records every call. It is safe for
// concurrent use. The zero value is ready.
type Sink struct {
	mu      sync.Mutex
	calls   []Call
	sealed  bool
	late    []Call
	changed chan struct{} // closed and replaced on every call
}

var _ sources.Sink = (*Sink)(nil)
var _ sources.ActivitySink = (*Sink)(nil)

// NewSink returns an empty Sink.
func NewSink() *Sink { return &Sink{} }

func (s *Sink) add(c Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sealed {
		s.late = append(s.late, c)
	}
	s.calls = append(s.calls, c)
	if s.changed != nil {
		close(s.changed)
		s.changed = nil
	}
}

// Record implements sources.Sink.
func (s *Sink) Record(k store.Key, value float64, at time.Time) {
	s.add(Call{Op: OpRecord, Key: k, Value: value, At: at})
}

// RecordActive implements sources.ActivitySink: a Record call with Active.
func (s *Sink) RecordActive(k store.Key, value float64, active bool, at time.Time) {
	s.add(Call{Op: OpRecord, Key: k, Value: value, At: at, Active: &active})
}

// Fail implements sources.Sink.
func (s *Sink) Fail(k store.Key, err error) { s.add(Call{Op: OpFail, Key: k, Err: err.Error()}) }

// SetPush implements sources.Sink.
func (s *Sink) SetPush(k store.Key, p store.Push) { s.add(Call{Op: OpSetPush, Key: k, Push: p}) }

// Key is the key of trigger 0 of ScaledObject ns/name (UID "uid-<name>"),
// for tests.
func Key(name string) store.Key { return KeyOf(store.ScaledObject, "ns", name, 0) }

// KeyOf is the key of trigger index of the kind's object ns/name (UID
// "uid-<name>"), for tests.
func KeyOf(kind store.Kind, ns, name string, index int) store.Key {
	return store.Key{Owner: store.Owner{Kind: kind, Namespace: ns, Name: name, UID: types.UID("uid-" + name)}, Trigger: index}
}

// Calls returns a copy of every call so far, in order.
func (s *Sink) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Len returns the number of calls so far.
func (s *Sink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// Last returns the last Record call for k.
func (s *Sink) Last(k store.Key) (Call, bool) { return s.last(k, OpRecord) }

// Value returns the last value recorded for k.
func (s *Sink) Value(k store.Key) (float64, bool) {
	c, ok := s.Last(k)
	return c.Value, ok
}

// Push returns the last SetPush call for k.
func (s *Sink) Push(k store.Key) (store.Push, bool) {
	c, ok := s.last(k, OpSetPush)
	return c.Push, ok
}

// Records returns the values recorded for k, in order.
func (s *Sink) Records(k store.Key) []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []float64
	for _, c := range s.calls {
		if c.Op == OpRecord && c.Key == k {
			out = append(out, c.Value)
		}
	}
	return out
}

func (s *Sink) last(k store.Key, op Op) (Call, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.calls) - 1; i >= 0; i-- {
		if c := s.calls[i]; c.Op == op && c.Key == k {
			return c, true
		}
	}
	return Call{}, false
}

// Reset forgets the calls so far.
func (s *Sink) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

// Seal marks the point after which no call may be made (a source's Start
// has returned); later calls are still recorded, and returned by Late.
func (s *Sink) Seal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sealed = true
}

// Late returns the calls made after Seal.
func (s *Sink) Late() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.late...)
}

// WaitTimeout bounds Await.
const WaitTimeout = 10 * time.Second

// Await blocks until cond, evaluated after each call to the sink (and once
// at first), returns true; it fails t after WaitTimeout. cond may call the
// methods of s.
func (s *Sink) Await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(WaitTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; calls: %v", what, s.Calls())
		}
	}
}

// AwaitValue waits until the last value recorded for k is v.
func (s *Sink) AwaitValue(t testing.TB, k store.Key, v float64) {
	t.Helper()
	s.Await(t, fmt.Sprintf("value %g for %s/%s[%d]", v, k.Namespace, k.Name, k.Trigger), func() bool {
		got, ok := s.Value(k)
		return ok && got == v
	})
}

// AwaitPush waits until the last push health reported for k has reason,
// and returns it; it fails t after WaitTimeout.
func (s *Sink) AwaitPush(t testing.TB, k store.Key, reason string) store.Push {
	t.Helper()
	var p store.Push
	s.Await(t, "PushHealthy "+reason, func() bool {
		var ok bool
		p, ok = s.Push(k)
		return ok && p.Reason == reason
	})
	return p
}

// AwaitValueWhere waits until the last value recorded for k satisfies ok
// (described by what), and returns it; it fails t after WaitTimeout.
func (s *Sink) AwaitValueWhere(t testing.TB, k store.Key, what string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	s.Await(t, what, func() bool {
		var known bool
		v, known = s.Value(k)
		return known && ok(v)
	})
	return v
}
