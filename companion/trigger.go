package companion

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// trigger is one watched (namespace, name, metadata). req and key never
// change; spec and params are set before it is published and params
// changed only under the Server's createMu.
type trigger struct {
	req    request
	key    store.Key
	spec   sources.Spec
	params map[string]string // secrets: never logged

	lastUsed atomic.Int64 // unix nanoseconds
	// gone is closed when the trigger is unwatched.
	gone chan struct{}

	mu   sync.Mutex
	subs map[chan struct{}]struct{}
}

func newTrigger(r request) *trigger {
	return &trigger{
		req: r,
		key: store.Key{Owner: store.Owner{
			Kind: KindExternalScaler, Namespace: r.namespace, Name: r.name, UID: types.UID(r.id),
		}},
		gone: make(chan struct{}),
		subs: map[chan struct{}]struct{}{},
	}
}

// metricName is the metric's name as KEDA wants it: without the "s0-"
// prefix (KEDA adds its own trigger index).
func (t *trigger) metricName() string {
	name, _ := strings.CutPrefix(t.spec.MetricName, "s0-")
	return name
}

// matches reports whether name (from GetMetrics) names t's metric: empty
// (all metrics), or its name with or without the prefix, in any case (the
// HPA lower-cases names).
func (t *trigger) matches(name string) bool {
	return name == "" || strings.EqualFold(name, t.metricName()) || strings.EqualFold(name, t.spec.MetricName)
}

func (t *trigger) touch(now time.Time) { t.lastUsed.Store(now.UnixNano()) }

// idle reports whether the unwatch rule applies: no stream open and no
// call for longer than timeout.
func (t *trigger) idle(now time.Time, timeout time.Duration) bool {
	t.mu.Lock()
	open := len(t.subs)
	t.mu.Unlock()
	return open == 0 && now.Sub(time.Unix(0, t.lastUsed.Load())) > timeout
}

// subscribe returns a channel that receives (coalesced) after each change
// of t's store entry, and its cancel function.
func (t *trigger) subscribe(now time.Time) (<-chan struct{}, func(time.Time)) {
	ch := make(chan struct{}, 1)
	t.mu.Lock()
	t.subs[ch] = struct{}{}
	t.mu.Unlock()
	t.touch(now)
	return ch, func(now time.Time) {
		t.mu.Lock()
		delete(t.subs, ch)
		t.mu.Unlock()
		t.touch(now)
	}
}

// wake tells every subscriber; it never blocks (a full channel already
// holds a wake-up, and the subscriber reads the store after it).
func (t *trigger) wake() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ch := range t.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// errUnknown: the trigger has no value yet (unknown is not zero).
var errUnknown = errors.New("no value yet: the trigger's first read has not finished")

// entry returns t's value, or why there is none to use: no value yet, or
// failing reads (KEDA then applies its own fallback). Errors are the
// sources' messages, which never hold a secret.
func (t *trigger) entry(st Store) (store.Entry, error) {
	e, ok := st.Get(t.key)
	switch {
	case !ok || !e.Known:
		return e, errUnknown
	case e.Failures > 0:
		return e, fmt.Errorf("%d failed reads, the last: %s", e.Failures, e.Err)
	}
	return e, nil
}

// active is t's activity: value above the activation threshold, or as
// the source decided it.
func (t *trigger) active(st Store) (bool, error) {
	e, err := t.entry(st)
	if err != nil {
		return false, err
	}
	return e.ActiveOver(t.spec.Activation), nil
}
