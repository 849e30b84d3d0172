// Package store is the gateway's in-memory metric store.
//
// Sources write trigger values into it (the write side: Record, Fail,
// SetPush); the scaler and the external metrics API read them (the read side:
// Get, Owner). Every change that can alter a scaling decision is reported to
// the notify function given to New, keyed by the owning object, so the scaler
// can mark that object dirty in a coalescing queue: nothing is dropped.
//
// A Store is safe for concurrent use. Reads return copies. The notify
// function is called after the lock is released and must not block.
package store

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Kind is the kind of object that owns a trigger.
type Kind string

// The owner kinds.
const (
	ScaledObject Kind = "ScaledObject"
	ScaledJob    Kind = "ScaledJob"
)

// Owner names one ScaledObject or ScaledJob exactly, UID included, so a
// deleted and recreated object never sees its predecessor's values.
type Owner struct {
	Kind      Kind
	Namespace string
	Name      string
	UID       types.UID
}

// NamespacedName returns the owner's namespace and name.
func (o Owner) NamespacedName() types.NamespacedName {
	return types.NamespacedName{Namespace: o.Namespace, Name: o.Name}
}

// Key names one trigger of one owner by its index in spec.triggers.
type Key struct {
	Owner
	Trigger int
}

// Push is the health of a trigger's push path.
type Push struct {
	// Healthy is true while the source receives pushes for this trigger.
	Healthy bool
	// Reason is one of the PushHealthy condition reasons (Subscribed,
	// Tracking, NotificationsDisabled, PermissionDenied, SubscriptionLost,
	// NotSupported, DisabledByConfig).
	Reason string
	// Message explains Reason to a user; it never holds a secret.
	Message string
}

// Entry is what the store knows about one trigger.
type Entry struct {
	// Value is the last successfully read value; meaningful only when Known.
	Value float64
	// Known is false until the first successful read: unknown is not zero.
	Known bool
	// At is the time of the last successful read.
	At time.Time
	// Err is the last read error, empty after a success.
	Err string
	// Failures counts consecutive failed reads since the last success.
	Failures int
	// FailedReads counts every failed read of the entry; it never
	// resets (keda_scaler_detail_errors_total is its running sum).
	FailedReads uint64
	// Push is the health of the trigger's push path.
	Push Push
	// Active is the activity the last read decided when its source decides
	// it on more than the value (KEDA's rabbitmq rate modes); nil: active
	// when Value > the trigger's activation threshold. See ActiveOver. The
	// bool it points to is never changed: copies may share it.
	Active *bool
}

// ActiveOver reports whether the entry is active for a trigger with
// activation threshold activation: Active when the source decided it,
// otherwise Value > activation. Known and Failures are the caller's to
// check.
func (e Entry) ActiveOver(activation float64) bool {
	if e.Active != nil {
		return *e.Active
	}
	return e.Value > activation
}

// Store holds entries by trigger key.
type Store struct {
	notify func(Owner)

	mu     sync.RWMutex
	owners map[Owner]map[int]*Entry
}

// New returns an empty store that reports changes to notify (nil for none).
func New(notify func(Owner)) *Store {
	if notify == nil {
		notify = func(Owner) {}
	}
	return &Store{notify: notify, owners: make(map[Owner]map[int]*Entry)}
}

// update applies fn to the entry of k, creating it, and notifies the owner
// when fn reports a change.
func (s *Store) update(k Key, fn func(e *Entry) bool) {
	s.mu.Lock()
	triggers := s.owners[k.Owner]
	if triggers == nil {
		triggers = make(map[int]*Entry)
		s.owners[k.Owner] = triggers
	}
	e := triggers[k.Trigger]
	if e == nil {
		e = &Entry{}
		triggers[k.Trigger] = e
	}
	changed := fn(e)
	s.mu.Unlock()
	if changed {
		s.notify(k.Owner)
	}
}

// Record stores a successful read of value at time at: the entry becomes
// known, its failure count is reset, and it is active when value is above
// the trigger's activation threshold (Active nil).
func (s *Store) Record(k Key, value float64, at time.Time) {
	s.record(k, value, nil, at)
}

// RecordActive is Record of a read whose source decided its activity
// itself (Entry.Active).
func (s *Store) RecordActive(k Key, value float64, active bool, at time.Time) {
	s.record(k, value, &active, at)
}

func (s *Store) record(k Key, value float64, active *bool, at time.Time) {
	s.update(k, func(e *Entry) bool {
		changed := !e.Known || e.Value != value || e.Failures != 0 || !sameActivity(e.Active, active)
		e.Value, e.Known, e.At, e.Err, e.Failures, e.Active = value, true, at, "", 0, active
		return changed
	})
}

func sameActivity(a, b *bool) bool {
	return a == nil && b == nil || a != nil && b != nil && *a == *b
}

// Fail records a failed read. The last known value is kept, but readers
// decide by Failures whether to use it (fallback semantics).
func (s *Store) Fail(k Key, err error) {
	s.update(k, func(e *Entry) bool {
		e.Failures++
		e.FailedReads++
		e.Err = err.Error()
		return true
	})
}

// SetPush records the health of a trigger's push path.
func (s *Store) SetPush(k Key, p Push) {
	s.update(k, func(e *Entry) bool {
		changed := e.Push != p
		e.Push = p
		return changed
	})
}

// Get returns a copy of the entry of k.
func (s *Store) Get(k Key) (Entry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.owners[k.Owner][k.Trigger]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Owner returns copies of every entry of o by trigger index.
func (s *Store) Owner(o Owner) map[int]Entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[int]Entry, len(s.owners[o]))
	for i, e := range s.owners[o] {
		out[i] = *e
	}
	return out
}

// Remove forgets trigger k, for example when a trigger is removed from its
// object's spec. It does not notify.
func (s *Store) Remove(k Key) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.owners[k.Owner], k.Trigger)
	if len(s.owners[k.Owner]) == 0 {
		delete(s.owners, k.Owner)
	}
}

// Forget removes every entry of o. It does not notify.
func (s *Store) Forget(o Owner) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.owners, o)
}

// Len returns the number of owners with at least one entry.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.owners)
}
