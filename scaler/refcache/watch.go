package refcache

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// watch follows one object. owners is guarded by Cache.mu; the object by
// its own mutex, since the reflector writes it outside Cache.mu.
type watch struct {
	ref    Ref
	owners map[Owner]struct{}
	cancel context.CancelFunc
	// synced is closed once the first list has been stored.
	synced chan struct{}

	mu       sync.Mutex
	obj      metav1.Object // nil: absent
	lastErr  error         // last list or watch error, for notSynced
	waitedOn bool          // a read gave up before the first list
}

// startWatch starts ref's reflector; c.mu is held.
func (c *Cache) startWatch(ref Ref) *watch {
	ctx, cancel := context.WithCancel(c.ctx)
	w := &watch{ref: ref, owners: map[Owner]struct{}{}, cancel: cancel, synced: make(chan struct{})}
	if c.stopped {
		cancel()
		return w
	}
	r := cache.NewReflectorWithOptions(cache.ToListWatcherWithWatchListSemantics(c.listWatch(w), c.opts.Client),
		expectedType(ref.Kind), &store{w: w, changed: func() { c.changed(w) }},
		cache.ReflectorOptions{Name: "refcache " + ref.String()})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		r.RunWithContext(ctx)
	}()
	c.log.Debug("watching", "kind", ref.Kind, "namespace", ref.Namespace, "name", ref.Name)
	return w
}

func expectedType(k Kind) runtime.Object {
	if k == ConfigMap {
		return &corev1.ConfigMap{}
	}
	return &corev1.Secret{}
}

// listWatch lists and watches w's one object by name. Errors are kept
// for a read that gives up waiting; the reflector retries with backoff.
func (c *Cache) listWatch(w *watch) *cache.ListWatch {
	sel := fields.OneTermEqualSelector("metadata.name", w.ref.Name).String()
	var list func(context.Context, metav1.ListOptions) (runtime.Object, error)
	var watchFn func(context.Context, metav1.ListOptions) (apiwatch.Interface, error)
	if w.ref.Kind == ConfigMap {
		api := c.opts.Client.CoreV1().ConfigMaps(w.ref.Namespace)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return api.List(ctx, o) }
		watchFn = api.Watch
	} else {
		api := c.opts.Client.CoreV1().Secrets(w.ref.Namespace)
		list = func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) { return api.List(ctx, o) }
		watchFn = api.Watch
	}
	return &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.FieldSelector = sel
			obj, err := list(ctx, o)
			w.setErr(err)
			return obj, err
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (apiwatch.Interface, error) {
			o.FieldSelector = sel
			wi, err := watchFn(ctx, o)
			w.setErr(err)
			return wi, err
		},
	}
}

func (w *watch) setErr(err error) {
	w.mu.Lock()
	w.lastErr = err
	w.mu.Unlock()
}

func (w *watch) current() any {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.obj == nil {
		return nil
	}
	return w.obj
}

// notSynced is the error of a read that gave up waiting (nil if the watch
// synced meanwhile); the owners are told once the watch syncs.
func (w *watch) notSynced() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.synced:
		return nil
	default:
	}
	w.waitedOn = true
	if w.lastErr != nil {
		return fmt.Errorf("%w: %v", ErrNotSynced, w.lastErr)
	}
	return ErrNotSynced
}

// store is the reflector's store for one watch: it keeps the one object
// of that name (a fake client may send others) and reports changes.
type store struct {
	w       *watch
	changed func()
}

func (s *store) set(obj any, deleted bool) {
	m, ok := obj.(metav1.Object)
	if !ok {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			m, _ = d.Obj.(metav1.Object)
		}
	}
	if m == nil || m.GetName() != s.w.ref.Name || m.GetNamespace() != s.w.ref.Namespace {
		return
	}
	if deleted {
		m = nil
	}
	if s.swap(m) {
		s.changed()
	}
}

// swap stores m and reports whether owners should hear of it: after the
// first list, when the object appeared, went or has a new version.
func (s *store) swap(m metav1.Object) bool {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	old := w.obj
	w.obj = m
	select {
	case <-w.synced:
	default:
		return false
	}
	switch {
	case old == nil && m == nil:
		return false
	case old == nil || m == nil:
		return true
	default:
		return old.GetResourceVersion() != m.GetResourceVersion() || old.GetUID() != m.GetUID()
	}
}

func (s *store) Add(obj any) error    { s.set(obj, false); return nil }
func (s *store) Update(obj any) error { s.set(obj, false); return nil }
func (s *store) Delete(obj any) error { s.set(obj, true); return nil }
func (s *store) Resync() error        { return nil }

// Replace stores the result of a (re)list: the first one marks the watch
// synced; later ones report what changed while the watch was down.
func (s *store) Replace(list []any, _ string) error {
	var found metav1.Object
	for _, obj := range list {
		if m, ok := obj.(metav1.Object); ok && m.GetName() == s.w.ref.Name && m.GetNamespace() == s.w.ref.Namespace {
			found = m
		}
	}
	w := s.w
	w.mu.Lock()
	first := false
	select {
	case <-w.synced:
	default:
		first = true
		w.obj = found
		close(w.synced)
	}
	waitedOn := w.waitedOn
	w.mu.Unlock()
	switch {
	case first && waitedOn:
		s.changed() // a read gave up: its owner must look again
	case !first && s.swap(found):
		s.changed()
	}
	return nil
}
