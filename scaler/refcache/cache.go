// Package refcache serves Secrets and ConfigMaps from memory, watching
// only the objects something references.
//
// Each referenced object gets its own watch (a reflector with a
// metadata.name field selector), shared by every owner that reads it and
// stopped when the last owner lets go. Reads after the first cost no
// apiserver request; a change, deletion or creation of a watched object
// calls OnChange for each owner that reads it, so a rotated password is
// picked up by the owner's next reconcile.
//
// Owners read through a Reader, one per reconcile: what a Reader read is,
// once it is closed, exactly what its owner references.
package refcache

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// Kind is the kind of a referenced object.
type Kind string

// The kinds served.
const (
	Secret    Kind = "Secret"
	ConfigMap Kind = "ConfigMap"
)

// Ref names one referenced object.
type Ref struct {
	Kind      Kind
	Namespace string
	Name      string
}

func (r Ref) String() string { return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name) }

// Owner is who references objects, e.g. a ScaledObject.
type Owner struct {
	Kind      string
	Namespace string
	Name      string
}

// Options configure a Cache.
type Options struct {
	// Client reads and watches the objects.
	Client kubernetes.Interface
	// OnChange is called for every owner of an object that changed, was
	// created or was deleted after its watch first synced. It must not
	// block (e.g. add to a workqueue).
	OnChange func(Owner)
	Logger   *slog.Logger
	// SyncTimeout bounds how long a read waits for a new watch's first
	// list (default 5 s); the read then fails, and the owner is told
	// through OnChange once the watch syncs.
	SyncTimeout time.Duration
	// MaxPerOwner bounds the objects one owner may reference, each a
	// watch (default DefaultMaxPerOwner); a read beyond it fails with
	// ErrTooManyRefs.
	MaxPerOwner int
}

// DefaultMaxPerOwner is far more than a ScaledObject's TriggerAuthentication
// and *FromEnv variables reference.
const DefaultMaxPerOwner = 64

// Cache is safe for concurrent use. Create it with New and run it with
// Start; reads wait for Start.
type Cache struct {
	opts    Options
	log     *slog.Logger
	started chan struct{}
	ctx     context.Context // set before started is closed
	wg      sync.WaitGroup

	mu      sync.Mutex
	stopped bool // Start has returned or is returning
	watches map[Ref]*watch
	owners  map[Owner]map[Ref]struct{}
}

// New returns a Cache; nothing is watched until a Reader reads.
func New(opts Options) *Cache {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.SyncTimeout <= 0 {
		opts.SyncTimeout = 5 * time.Second
	}
	if opts.OnChange == nil {
		opts.OnChange = func(Owner) {}
	}
	if opts.MaxPerOwner <= 0 {
		opts.MaxPerOwner = DefaultMaxPerOwner
	}
	return &Cache{
		opts:    opts,
		log:     opts.Logger.With("component", "refcache"),
		started: make(chan struct{}),
		watches: map[Ref]*watch{},
		owners:  map[Owner]map[Ref]struct{}{},
	}
}

// Start lets watches run until ctx is done, then stops them all and
// waits for them. It returns nil.
func (c *Cache) Start(ctx context.Context) error {
	c.ctx = ctx
	close(c.started)
	<-ctx.Done()
	c.mu.Lock()
	c.stopped = true
	for ref, w := range c.watches {
		w.cancel()
		delete(c.watches, ref)
	}
	c.mu.Unlock()
	c.wg.Wait()
	return nil
}

// Reader returns a view for one pass of owner (a reconcile). Readers of
// one owner must not be used concurrently.
func (c *Cache) Reader(o Owner) *Reader {
	return &Reader{c: c, owner: o, read: map[Ref]struct{}{}}
}

// Forget drops every reference of o (e.g. its object was deleted).
func (c *Cache) Forget(o Owner) { c.retain(o, nil) }

// Watches returns the number of objects watched.
func (c *Cache) Watches() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.watches)
}

// Reader reads Secrets and ConfigMaps for one owner and records what it
// read. It is not safe for concurrent use.
type Reader struct {
	c     *Cache
	owner Owner
	read  map[Ref]struct{}
}

// Secret returns the Secret ns/name, read from the cache (a watch is
// started on the first read). The object is shared: do not modify it. A
// missing Secret is a NotFound error; the owner still references it, so
// its creation calls OnChange.
func (r *Reader) Secret(ctx context.Context, ns, name string) (*corev1.Secret, error) {
	obj, err := r.get(ctx, Ref{Kind: Secret, Namespace: ns, Name: name})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Secret), nil
}

// ConfigMap is Secret for ConfigMaps.
func (r *Reader) ConfigMap(ctx context.Context, ns, name string) (*corev1.ConfigMap, error) {
	obj, err := r.get(ctx, Ref{Kind: ConfigMap, Namespace: ns, Name: name})
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.ConfigMap), nil
}

// Close makes what r read exactly what its owner references: objects the
// owner read before but not through r are let go, and watches nobody
// references any more are stopped.
func (r *Reader) Close() { r.c.retain(r.owner, r.read) }

// ErrNotSynced is returned when a new watch has not listed its object
// within Options.SyncTimeout.
var ErrNotSynced = errors.New("not yet read from the apiserver")

// ErrTooManyRefs is returned for a read that would make one owner
// reference more than Options.MaxPerOwner objects.
var ErrTooManyRefs = errors.New("too many Secrets and ConfigMaps referenced by one object")

func (r *Reader) get(ctx context.Context, ref Ref) (any, error) {
	if _, ok := r.read[ref]; !ok && len(r.read) >= r.c.opts.MaxPerOwner {
		return nil, fmt.Errorf("%w: %s would be number %d, the most is %d", ErrTooManyRefs, ref, len(r.read)+1, r.c.opts.MaxPerOwner)
	}
	r.read[ref] = struct{}{}
	select {
	case <-r.c.started:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	w := r.c.use(r.owner, ref)
	t := time.NewTimer(r.c.opts.SyncTimeout)
	defer t.Stop()
	select {
	case <-w.synced:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
		if err := w.notSynced(); err != nil {
			return nil, err
		}
	}
	obj := w.current()
	if obj == nil {
		gr := schema.GroupResource{Resource: resourceOf(ref.Kind)}
		return nil, apierrors.NewNotFound(gr, ref.Name)
	}
	return obj, nil
}

// use adds ref to o's references, starting its watch if it is new.
func (c *Cache) use(o Owner, ref Ref) *watch {
	c.mu.Lock()
	defer c.mu.Unlock()
	refs := c.owners[o]
	if refs == nil {
		refs = map[Ref]struct{}{}
		c.owners[o] = refs
	}
	w := c.watches[ref]
	if w == nil {
		w = c.startWatch(ref)
		c.watches[ref] = w
	}
	if _, ok := refs[ref]; !ok {
		refs[ref] = struct{}{}
		w.owners[o] = struct{}{}
	}
	return w
}

// retain keeps only keep among o's references.
func (c *Cache) retain(o Owner, keep map[Ref]struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ref := range c.owners[o] {
		if _, ok := keep[ref]; ok {
			continue
		}
		delete(c.owners[o], ref)
		w := c.watches[ref]
		if w == nil {
			continue
		}
		delete(w.owners, o)
		if len(w.owners) == 0 {
			w.cancel()
			delete(c.watches, ref)
		}
	}
	if len(c.owners[o]) == 0 {
		delete(c.owners, o)
	}
}

// changed tells every owner of w that its object changed.
func (c *Cache) changed(w *watch) {
	c.mu.Lock()
	owners := make([]Owner, 0, len(w.owners))
	for o := range w.owners {
		owners = append(owners, o)
	}
	c.mu.Unlock()
	for _, o := range owners {
		c.opts.OnChange(o)
	}
}

func resourceOf(k Kind) string {
	if k == ConfigMap {
		return "configmaps"
	}
	return "secrets"
}
