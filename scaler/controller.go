package scaler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	autoscalingv2listers "k8s.io/client-go/listers/autoscaling/v2"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/leader"
	"github.com/pushscale/pushscale/scaler/refcache"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Options configure a Controller.
type Options struct {
	// Config reaches the apiserver.
	Config *rest.Config
	// Sources parses and watches triggers.
	Sources *sources.Manager
	// Store holds trigger values. Its notify function must call Notify.
	Store *store.Store
	// WatchNamespace limits the controller to one namespace ("" = all).
	WatchNamespace string
	// WatchLabelSelector limits the controller to the ScaledObjects it
	// selects (a Kubernetes label selector; "" = all). An object whose
	// labels leave the selector is forgotten, not finalized: its HPA and
	// status stay for the autoscaler that selects it now.
	WatchLabelSelector string
	// ClusterObjectNamespace is where ClusterTriggerAuthentications'
	// Secrets and ConfigMaps live.
	ClusterObjectNamespace string
	Logger                 *slog.Logger
	Clock                  clock.WithTicker
	Metrics                *Metrics
	// QueueMetrics receives the metrics of the controller's workqueues
	// (nil: client-go's process-wide provider). Passed explicitly because
	// the process-wide one is whichever package set it first (the apiserver
	// library's dependencies set theirs at init).
	QueueMetrics workqueue.MetricsProvider
	// Workers is the number of reconcile and of decision workers (default 4).
	Workers int
	// Notifier, when set, is bound to the controller by New (see
	// Notifier).
	Notifier *Notifier
	// ClusterTriggerAuthTargetCheck is --cluster-trigger-auth-target-check
	// (default enforce): see sources.ClusterAuth.
	ClusterTriggerAuthTargetCheck sources.TargetCheck
	// Leadership gates writes and decisions (see Leadership); nil: this
	// replica always leads.
	Leadership Leadership
}

// Controller is the ScaledObject controller and activator. Create it with
// New, start it with Start.
type Controller struct {
	opts  Options
	log   *slog.Logger
	clock clock.WithTicker
	kube  kubernetes.Interface
	// eventSink is where the recorder's Events go (a client of its own).
	eventSink typedcorev1.EventInterface
	dyn       dynamic.Interface
	keda      *rest.RESTClient
	scales    scale.ScalesGetter
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	recorder  record.EventRecorder
	events    record.EventBroadcaster

	soInformer, taInformer, ctaInformer cache.SharedIndexInformer
	// refs serves the Secrets and ConfigMaps that triggers reference,
	// watching only those; a change reconciles the objects that read them.
	refs *refcache.Cache
	// hpaInformer caches HPAs: our own (read without a request on every
	// reconcile) and others' on the same workloads (KEDA's ownership
	// checks).
	hpaInformer cache.SharedIndexInformer
	hpaLister   autoscalingv2listers.HorizontalPodAutoscalerLister

	reconcileQ workqueue.TypedRateLimitingInterface[types.NamespacedName]
	decideQ    workqueue.TypedRateLimitingInterface[types.NamespacedName]

	// selector is WatchLabelSelector parsed; nil selects everything.
	selector labels.Selector

	// syncedAt is when the informers synced and every object was
	// reconciled once (Unix nanoseconds of the clock); 0 until then.
	syncedAt atomic.Int64

	mu      sync.RWMutex
	targets map[types.NamespacedName]*target

	// jobs is the ScaledJob controller.
	jobs *jobs
}

// New returns a controller; nothing runs until Start.
func New(opts Options) (*Controller, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics(nil)
	}
	if opts.Workers <= 0 {
		opts.Workers = 4
	}
	scheme := Scheme()
	kube, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	// Events go through a client of their own, as with controller-
	// runtime's recorder: an Event never waits in the rate limiter of the
	// requests that scale (1,000 new ScaledObjects are 1,000 HPA creates
	// and 1,000 ScaledObjectReady Events; on one client the HPAs waited
	// behind the Events).
	eventsKube, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	keda, err := newKedaClient(opts.Config, scheme)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	scales, err := scale.NewForConfig(opts.Config, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disc))
	if err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	dyn, err := dynamic.NewForConfig(opts.Config)
	if err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	var selector labels.Selector
	if opts.WatchLabelSelector != "" {
		if selector, err = labels.Parse(opts.WatchLabelSelector); err != nil {
			return nil, fmt.Errorf("scaler: watch label selector %q: %w", opts.WatchLabelSelector, err)
		}
	}
	events := newEventBroadcaster(opts.Clock)
	c := &Controller{
		opts:      opts,
		log:       opts.Logger.With("component", "scaler"),
		clock:     opts.Clock,
		kube:      kube,
		eventSink: eventsKube.CoreV1().Events(""),
		dyn:       dyn,
		keda:      keda,
		scales:    scales,
		mapper:    mapper,
		events:    events,
		targets:   make(map[types.NamespacedName]*target),
		selector:  selector,
	}
	c.recorder = leaderRecorder{EventRecorder: events.NewRecorder(scheme, corev1.EventSource{Component: "pushscale"}), leading: c.leading}
	c.reconcileQ, c.decideQ = newReconcileQueue("scaledobject-reconcile", opts.QueueMetrics), newDecideQueue("scaledobject-decide", opts.Clock, opts.QueueMetrics)
	c.refs = refcache.New(refcache.Options{
		Client: kube, Logger: opts.Logger,
		OnChange: func(o refcache.Owner) {
			switch o.Kind {
			case refOwnerKind:
				c.reconcileQ.Add(types.NamespacedName{Namespace: o.Namespace, Name: o.Name})
			case jobRefOwnerKind:
				c.jobs.reconcileQ.Add(types.NamespacedName{Namespace: o.Namespace, Name: o.Name})
			}
		},
	})
	c.soInformer = cache.NewSharedIndexInformer(
		cache.NewFilteredListWatchFromClient(keda, "scaledobjects", opts.WatchNamespace, func(o *metav1.ListOptions) {
			if selector != nil {
				o.LabelSelector = selector.String()
			}
		}),
		&kedav1.ScaledObject{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc, targetIndex: indexSOByWorkload})
	c.hpaInformer = cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(kube.AutoscalingV2().RESTClient(), "horizontalpodautoscalers", opts.WatchNamespace, fields.Everything()),
		&autoscalingv2.HorizontalPodAutoscaler{}, 0, cache.Indexers{targetIndex: indexHPAByWorkload})
	c.hpaLister = autoscalingv2listers.NewHorizontalPodAutoscalerLister(c.hpaInformer.GetIndexer())
	c.taInformer = cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(keda, "triggerauthentications", opts.WatchNamespace, fields.Everything()),
		&kedav1.TriggerAuthentication{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	c.ctaInformer = cache.NewSharedIndexInformer(
		cache.NewListWatchFromClient(keda, "clustertriggerauthentications", "", fields.Everything()),
		&kedav1.ClusterTriggerAuthentication{}, 0, cache.Indexers{})
	for _, inf := range []cache.SharedIndexInformer{c.soInformer, c.hpaInformer, c.taInformer, c.ctaInformer} {
		if err := inf.SetTransform(slim); err != nil {
			return nil, fmt.Errorf("scaler: %w", err)
		}
	}
	if c.jobs, err = newJobs(c); err != nil {
		return nil, err
	}
	if err := c.addHandlers(); err != nil {
		return nil, err
	}
	if opts.Notifier != nil {
		opts.Notifier.c.Store(c)
	}
	return c, nil
}

// Notifier carries the store's changes and the sources' rechecks to the
// Controller, which needs the store and the sources to be built first: they
// are built with the Notifier's methods, and New binds it. Before that it
// drops what it is told: nothing is watched before the Controller runs.
type Notifier struct{ c atomic.Pointer[Controller] }

// Notify is the store's notify function (see Controller.Notify).
func (n *Notifier) Notify(o store.Owner) {
	if c := n.c.Load(); c != nil {
		c.Notify(o)
	}
}

// Recheck is the sources' recheck (see Controller.Recheck).
func (n *Notifier) Recheck(o store.Owner) {
	if c := n.c.Load(); c != nil {
		c.Recheck(o)
	}
}

// Notify marks the owner's target for a new decision. It is the store's
// notify function: it never blocks and never drops (the queue coalesces).
func (c *Controller) Notify(o store.Owner) {
	switch o.Kind {
	case store.ScaledObject:
		c.decideQ.Add(o.NamespacedName())
	case store.ScaledJob:
		c.jobs.decideQ.Add(o.NamespacedName())
	}
}

// Recheck reconciles the owner's object again: a source's answer to Check
// for one of its triggers may have changed. It never blocks (see
// sources.ManagerOptions.Recheck).
func (c *Controller) Recheck(o store.Owner) {
	switch o.Kind {
	case store.ScaledObject:
		c.reconcileQ.Add(o.NamespacedName())
	case store.ScaledJob:
		c.jobs.reconcileQ.Add(o.NamespacedName())
	}
}

func (c *Controller) addHandlers() error {
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			c.reconcileQ.Add(types.NamespacedName{Namespace: ns, Name: name})
		}
	}
	_, err := c.soInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*kedav1.ScaledObject), newObj.(*kedav1.ScaledObject)
			// Our own status writes change neither generation nor metadata.
			if o.Generation != n.Generation || !mapsEqual(o.Annotations, n.Annotations) ||
				!mapsEqual(o.Labels, n.Labels) || n.DeletionTimestamp != nil {
				enqueue(newObj)
			}
			// A workload it leaves may go to another ScaledObject.
			if k := soWorkloadKey(o); k != soWorkloadKey(n) {
				c.enqueueWorkload(k, o.UID)
			}
		},
		DeleteFunc: func(obj any) {
			enqueue(obj)
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			// The next ScaledObject on its workload takes over.
			if so, ok := obj.(*kedav1.ScaledObject); ok {
				c.enqueueWorkload(soWorkloadKey(so), so.UID)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	if _, err := c.hpaInformer.AddEventHandler(c.hpaHandlers()); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	// A change of a TriggerAuthentication reconciles every ScaledObject of
	// its namespace (a ClusterTriggerAuthentication: every one); the
	// reconcile sees no change where the resolved parameters are the same.
	authChanged := func(obj any) {
		ns := ""
		if ta, ok := obj.(*kedav1.TriggerAuthentication); ok {
			ns = ta.Namespace
		} else if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			if ta, ok := d.Obj.(*kedav1.TriggerAuthentication); ok {
				ns = ta.Namespace
			}
		}
		var objs []any
		if ns != "" {
			objs, _ = c.soInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		} else {
			objs = c.soInformer.GetIndexer().List()
		}
		for _, o := range objs {
			enqueue(o)
		}
		if ns != "" {
			objs, _ = c.jobs.sjInformer.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
		} else {
			objs = c.jobs.sjInformer.GetIndexer().List()
		}
		for _, o := range objs {
			sj := o.(*kedav1.ScaledJob)
			c.jobs.reconcileQ.Add(types.NamespacedName{Namespace: sj.Namespace, Name: sj.Name})
		}
	}
	h := cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			c.warnUnsupportedAuth(obj)
			authChanged(obj)
		},
		UpdateFunc: func(o, n any) {
			if o.(metav1.Object).GetGeneration() != n.(metav1.Object).GetGeneration() {
				c.warnUnsupportedAuth(n)
			}
			authChanged(n)
		},
		DeleteFunc: authChanged,
	}
	if _, err := c.taInformer.AddEventHandler(h); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	if _, err := c.ctaInformer.AddEventHandler(h); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	return nil
}

// Start runs the informers and workers until ctx is done.
func (c *Controller) Start(ctx context.Context) error {
	c.events.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.eventSink})
	defer c.events.Shutdown()

	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = c.refs.Start(ctx) }()
	for _, inf := range []cache.SharedIndexInformer{c.soInformer, c.taInformer, c.ctaInformer, c.hpaInformer} {
		wg.Add(1)
		go func() { defer wg.Done(); inf.RunWithContext(ctx) }()
	}
	defer wg.Wait()
	defer c.reconcileQ.ShutDown()
	defer c.decideQ.ShutDown()

	if !cache.WaitForCacheSync(ctx.Done(), c.soInformer.HasSynced, c.taInformer.HasSynced, c.ctaInformer.HasSynced, c.hpaInformer.HasSynced) {
		return nil
	}
	if !c.jobs.start(ctx, &wg) {
		return nil
	}
	// Reconcile everything once before declaring the informers synced, so
	// Ready waits for the first values of every trigger. Reconciles run on
	// every replica; decisions once this one leads.
	for range c.opts.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); c.run(ctx, store.ScaledObject, c.reconcileQ, c.reconcile) }()
	}
	wg.Add(1)
	go func() { defer wg.Done(); c.runDecisions(ctx, &wg) }()
	c.waitInitialReconciles(ctx)
	c.syncedAt.Store(c.clock.Now().UnixNano())
	c.log.Info("ScaledObject and ScaledJob informers synced", "scaledObjects", len(c.soInformer.GetIndexer().ListKeys()),
		"scaledJobs", len(c.jobs.sjInformer.GetIndexer().ListKeys()))
	<-ctx.Done()
	return nil
}

// waitInitialReconciles waits until every ScaledObject listed at the sync
// has a target, and for firstValueWait at most: an object deleted (or
// being deleted) since is not waited for, and one whose reconcile keeps
// failing must not keep the gateway unready. A namespace being deleted
// while the gateway starts leaves such objects.
func (c *Controller) waitInitialReconciles(ctx context.Context) {
	keys := c.soInformer.GetIndexer().ListKeys()
	deadline := c.clock.Now().Add(firstValueWait)
	for {
		missing := c.unreconciled(keys)
		if missing == 0 {
			return
		}
		if !c.clock.Now().Before(deadline) {
			c.log.Warn("ScaledObjects still without a first reconcile: declaring the informers synced anyway", "count", missing, "waited", firstValueWait)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-c.clock.After(50 * time.Millisecond):
		}
	}
}

// unreconciled counts the ScaledObjects of keys that still exist, are not
// being deleted, and have no target yet.
func (c *Controller) unreconciled(keys []string) int {
	missing := 0
	for _, k := range keys {
		ns, name, _ := cache.SplitMetaNamespaceKey(k)
		c.mu.RLock()
		_, ok := c.targets[types.NamespacedName{Namespace: ns, Name: name}]
		c.mu.RUnlock()
		if ok {
			continue
		}
		obj, exists, err := c.soInformer.GetIndexer().GetByKey(k)
		if err != nil || !exists {
			continue
		}
		if m, err := meta.Accessor(obj); err == nil && m.GetDeletionTimestamp() != nil {
			continue
		}
		missing++
	}
	return missing
}

func (c *Controller) run(ctx context.Context, kind store.Kind, q workqueue.TypedRateLimitingInterface[types.NamespacedName], fn func(context.Context, types.NamespacedName) error) {
	// Exported at 0 from the start, so that rate() and alerts see it.
	c.opts.Metrics.ReconcileError.WithLabelValues(string(kind))
	for {
		key, shutdown := q.Get()
		if shutdown {
			return
		}
		err := fn(ctx, key)
		switch {
		case err == nil:
			q.Forget(key)
		case ctx.Err() != nil:
		case errors.Is(err, leader.ErrNotLeader):
			// The lease ended under this work (the gateway stops), or a
			// write path lacks its gate: the fence refused it unsent. A
			// takeover queues everything again.
			c.log.Debug("write refused: not the leader", "namespace", key.Namespace, kindLogKey(kind), key.Name, "err", err)
			q.Forget(key)
		case errors.Is(err, errStaleReplicas):
			// Expected when someone else scaled the target: decide again
			// on a fresh read.
			c.log.Debug("replicas changed since they were read; deciding again", "namespace", key.Namespace, "scaledObject", key.Name)
			q.AddRateLimited(key)
		default:
			c.log.Warn("retrying", "namespace", key.Namespace, kindLogKey(kind), key.Name, "err", err)
			c.opts.Metrics.ReconcileError.WithLabelValues(string(kind)).Inc()
			q.AddRateLimited(key)
		}
		q.Done(key)
	}
}

// ReferenceWatches is the number of Secrets and ConfigMaps watched for
// the objects' references (TriggerAuthentications, *FromEnv).
func (c *Controller) ReferenceWatches() int { return c.refs.Watches() }

// firstValueWait bounds how long Ready waits for the triggers' first
// values once the informers have synced: a trigger whose system hangs
// (neither a value nor a failed read) must not keep a replica out of its
// Service, and with it every other tenant's webhooks and metrics.
const firstValueWait = 30 * time.Second

// Ready reports whether the informers have synced and every watched
// trigger has a value (or a failed read), or firstValueWait has passed
// since they synced: until then the gateway's /readyz fails.
func (c *Controller) Ready() bool {
	synced := c.syncedAt.Load()
	if synced == 0 {
		return false
	}
	if c.clock.Since(time.Unix(0, synced)) >= firstValueWait {
		return true
	}
	if !c.jobs.ready() {
		return false
	}
	c.mu.RLock()
	targets := make([]*target, 0, len(c.targets))
	for _, t := range c.targets {
		targets = append(targets, t)
	}
	c.mu.RUnlock()
	for _, t := range targets {
		t.mu.RLock()
		triggers := t.triggers
		t.mu.RUnlock()
		for _, w := range triggers {
			if e, ok := c.opts.Store.Get(store.Key{Owner: t.owner, Trigger: w.index}); !ok || !e.Known && e.Failures == 0 {
				return false
			}
		}
	}
	return true
}

// newReconcileQueue is a reconcile queue: client-go's controller rate
// limits for retries. Its metrics, named name, go to mp (nil: the
// process-wide provider).
func newReconcileQueue(name string, mp workqueue.MetricsProvider) workqueue.TypedRateLimitingInterface[types.NamespacedName] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName](),
		workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: name, MetricsProvider: mp})
}

// newDecideQueue is a decision queue on clk: retries back off from 10 ms
// to 30 s, and nothing else delays a key.
func newDecideQueue(name string, clk clock.WithTicker, mp workqueue.MetricsProvider) workqueue.TypedRateLimitingInterface[types.NamespacedName] {
	return workqueue.NewTypedRateLimitingQueueWithConfig(
		workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](10*time.Millisecond, 30*time.Second),
		workqueue.TypedRateLimitingQueueConfig[types.NamespacedName]{Name: name, Clock: clk, MetricsProvider: mp})
}

// kindLogKey is the log key naming an object of kind (scaledObject,
// scaledJob).
func kindLogKey(kind store.Kind) string {
	if kind == store.ScaledJob {
		return "scaledJob"
	}
	return "scaledObject"
}

var errNoTarget = errors.New("no such ScaledObject")

// refOwnerKind is the refcache owner kind of ScaledObjects.
const refOwnerKind = "ScaledObject"

func refOwner(key types.NamespacedName) refcache.Owner {
	return refcache.Owner{Kind: refOwnerKind, Namespace: key.Namespace, Name: key.Name}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
