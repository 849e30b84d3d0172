package scaler

import (
	"github.com/pushscale/pushscale/scaler/kedametrics"

	"context"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
)

// jobs is the ScaledJob half of the Controller. It shares the
// Controller's clients, sources, store, TriggerAuthentication informers,
// refcache and Event recorder, and has its own informers (ScaledJobs, the
// Jobs they own, those Jobs' Pods), queues and targets.
//
// Where the decision runs: decideQ hands a ScaledJob's key to one worker
// at a time, so one ScaledJob's decisions never run concurrently. Each
// decision reads the Jobs from the informer; the Jobs it created that the
// informer has not shown yet are its expectations (jobTarget.unseen), and
// count as running and pending until the informer shows them, so a
// decision that follows at once (the next item, a Pod event) cannot create
// the same Jobs again.
type jobs struct {
	c *Controller

	sjInformer, jobInformer, podInformer cache.SharedIndexInformer
	reconcileQ, decideQ                  workqueue.TypedRateLimitingInterface[types.NamespacedName]

	// mu guards targets and every jobTarget's fields.
	mu      sync.Mutex
	targets map[types.NamespacedName]*jobTarget
}

// jobTarget is the controller's state of one ScaledJob.
type jobTarget struct {
	owner store.Owner
	sj    *kedav1.ScaledJob
	// valid is false when the ScaledJob cannot be scaled (ready says why).
	valid  bool
	ready  kedav1.Condition
	paused bool
	// refused is set while a source refuses one of triggers.
	refused     bool
	triggers    []watched
	fingerprint string

	lastActive   time.Time
	wasActive    bool
	written      *kedav1.ScaledJobStatus
	lastActiveAt time.Time // when lastActiveTime was last written
	failedReads  map[int]uint64

	// unseen are the Jobs this gateway created that the informer has not
	// shown yet, by name, with the time of their creation; deleting are
	// the Jobs it deleted that the informer still shows.
	unseen, deleting map[string]time.Time
}

// Informer indexes of Jobs (by ScaledJob) and Pods (by Job).
const (
	byScaledJob = "scaledjob"
	byJob       = "job"
)

// expectationTTL bounds how long a created Job the informer never showed
// (or a deleted one it keeps showing) is remembered, as Kubernetes'
// controllers bound their expectations.
const expectationTTL = 5 * time.Minute

func newJobs(c *Controller) (*jobs, error) {
	opts := c.opts
	j := &jobs{
		c:          c,
		reconcileQ: newReconcileQueue("scaledjob-reconcile", opts.QueueMetrics),
		decideQ:    newDecideQueue("scaledjob-decide", opts.Clock, opts.QueueMetrics),
		targets:    make(map[types.NamespacedName]*jobTarget),
	}
	j.sjInformer = cache.NewSharedIndexInformer(
		cache.NewFilteredListWatchFromClient(c.keda, "scaledjobs", opts.WatchNamespace, func(o *metav1.ListOptions) {
			if c.selector != nil {
				o.LabelSelector = c.selector.String()
			}
		}),
		&kedav1.ScaledJob{}, 0, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	owned := func(o *metav1.ListOptions) { o.LabelSelector = kedav1.LabelScaledJobName }
	j.jobInformer = cache.NewSharedIndexInformer(
		cache.NewFilteredListWatchFromClient(c.kube.BatchV1().RESTClient(), "jobs", opts.WatchNamespace, owned),
		&batchv1.Job{}, 0, cache.Indexers{byScaledJob: indexJobByScaledJob})
	// The Pods of our Jobs carry the label too (it is set on the template).
	j.podInformer = cache.NewSharedIndexInformer(
		cache.NewFilteredListWatchFromClient(c.kube.CoreV1().RESTClient(), "pods", opts.WatchNamespace, owned),
		&corev1.Pod{}, 0, cache.Indexers{byJob: indexPodByJob})
	if err := j.sjInformer.SetTransform(slim); err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	if err := j.jobInformer.SetTransform(slimJob); err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	if err := j.podInformer.SetTransform(slimPod); err != nil {
		return nil, fmt.Errorf("scaler: %w", err)
	}
	if err := j.addHandlers(); err != nil {
		return nil, err
	}
	return j, nil
}

func indexJobByScaledJob(obj any) ([]string, error) {
	job, ok := obj.(*batchv1.Job)
	if !ok {
		return nil, nil
	}
	return []string{job.Namespace + "/" + job.Labels[kedav1.LabelScaledJobName]}, nil
}

func indexPodByJob(obj any) ([]string, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "Job" {
		return []string{pod.Namespace + "/" + ref.Name}, nil
	}
	return nil, nil
}

// slimJob keeps what the controller reads of a Job: metadata and status.
func slimJob(obj any) (any, error) {
	if job, ok := obj.(*batchv1.Job); ok {
		job.Spec = batchv1.JobSpec{}
		job.Status.UncountedTerminatedPods = nil
	}
	return slim(obj)
}

// slimPod keeps what the controller reads of a Pod: its metadata, phase
// and conditions.
func slimPod(obj any) (any, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		pod.Spec = corev1.PodSpec{}
		pod.Status = corev1.PodStatus{Phase: pod.Status.Phase, Conditions: pod.Status.Conditions}
	}
	return slim(obj)
}

// scaledJobOf returns the key of the ScaledJob that owns a Job or Pod
// (from its label).
func scaledJobOf(obj any) (types.NamespacedName, bool) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok || m.GetLabels()[kedav1.LabelScaledJobName] == "" {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: m.GetNamespace(), Name: m.GetLabels()[kedav1.LabelScaledJobName]}, true
}

func (j *jobs) addHandlers() error {
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			ns, name, _ := cache.SplitMetaNamespaceKey(key)
			j.reconcileQ.Add(types.NamespacedName{Namespace: ns, Name: name})
		}
	}
	if _, err := j.sjInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: enqueue,
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*kedav1.ScaledJob), newObj.(*kedav1.ScaledJob)
			// Our own status writes change neither generation nor metadata.
			if o.Generation != n.Generation || !mapsEqual(o.Annotations, n.Annotations) ||
				!mapsEqual(o.Labels, n.Labels) || n.DeletionTimestamp != nil {
				enqueue(newObj)
			}
		},
		DeleteFunc: enqueue,
	}); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	if _, err := j.jobInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			j.observed(obj, false)
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*batchv1.Job), newObj.(*batchv1.Job)
			if jobFinished(o) != jobFinished(n) || (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) {
				j.observed(newObj, false)
			}
		},
		DeleteFunc: func(obj any) { j.observed(obj, true) },
	}); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	podChanged := func(obj any) {
		if key, ok := scaledJobOf(obj); ok {
			j.decideQ.Add(key)
		}
	}
	if _, err := j.podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: podChanged,
		UpdateFunc: func(oldObj, newObj any) {
			o, n := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
			if o.Status.Phase != n.Status.Phase || !podConditionsEqual(o.Status.Conditions, n.Status.Conditions) {
				podChanged(newObj)
			}
		},
		DeleteFunc: podChanged,
	}); err != nil {
		return fmt.Errorf("scaler: %w", err)
	}
	return nil
}

// observed settles the expectations of the Job obj (shown by the informer,
// or gone from it) and has its ScaledJob decide again.
func (j *jobs) observed(obj any, gone bool) {
	key, ok := scaledJobOf(obj)
	if !ok {
		return
	}
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if job, ok := obj.(*batchv1.Job); ok {
		j.mu.Lock()
		if t := j.targets[key]; t != nil {
			delete(t.unseen, job.Name)
			if gone {
				delete(t.deleting, job.Name)
			}
		}
		j.mu.Unlock()
	}
	j.decideQ.Add(key)
}

func podConditionsEqual(a, b []corev1.PodCondition) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Type != b[i].Type || a[i].Status != b[i].Status {
			return false
		}
	}
	return true
}

// start runs the informers and workers until ctx is done; it returns once
// the informers have synced (or ctx is done). wg tracks every goroutine.
func (j *jobs) start(ctx context.Context, wg *sync.WaitGroup) bool {
	for _, inf := range []cache.SharedIndexInformer{j.sjInformer, j.jobInformer, j.podInformer} {
		wg.Add(1)
		go func() { defer wg.Done(); inf.RunWithContext(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-ctx.Done()
		j.reconcileQ.ShutDown()
		j.decideQ.ShutDown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), j.sjInformer.HasSynced, j.jobInformer.HasSynced, j.podInformer.HasSynced) {
		return false
	}
	// The decisions run once this replica leads (Controller.runDecisions).
	for range j.c.opts.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); j.c.run(ctx, store.ScaledJob, j.reconcileQ, j.reconcile) }()
	}
	return true
}

// ready reports whether every ScaledJob's watched triggers have a value
// (or a failed read).
func (j *jobs) ready() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, t := range j.targets {
		for _, w := range t.triggers {
			if e, ok := j.c.opts.Store.Get(store.Key{Owner: t.owner, Trigger: w.index}); !ok || !e.Known && e.Failures == 0 {
				return false
			}
		}
	}
	return true
}

// targetFor returns the target of key, creating it for sj (or replacing
// one of a deleted ScaledJob of the same name). It sets t.sj.
func (j *jobs) targetFor(key types.NamespacedName, sj *kedav1.ScaledJob) *jobTarget {
	j.mu.Lock()
	t := j.targets[key]
	if t != nil && t.owner.UID != sj.UID {
		j.mu.Unlock()
		j.teardown(key)
		j.mu.Lock()
		t = nil
	}
	if t == nil {
		t = &jobTarget{
			owner:       store.Owner{Kind: store.ScaledJob, Namespace: sj.Namespace, Name: sj.Name, UID: sj.UID},
			unseen:      map[string]time.Time{},
			deleting:    map[string]time.Time{},
			failedReads: map[int]uint64{},
			wasActive:   sj.Status.Conditions.IsTrue(kedav1.ConditionActive),
		}
		if sj.Status.LastActiveTime != nil {
			t.lastActive = sj.Status.LastActiveTime.Time
		}
		j.targets[key] = t
	}
	t.sj = sj
	j.mu.Unlock()
	return t
}

// forgetMetricsIfGone runs at the end of a decision of t: when t was torn
// down meanwhile, the series the decision made after teardown are deleted.
func (j *jobs) forgetMetricsIfGone(key types.NamespacedName, t *jobTarget) {
	j.mu.Lock()
	gone := j.targets[key] != t
	j.mu.Unlock()
	if gone {
		j.c.opts.Metrics.Keda.Forget(kedametrics.Object{Namespace: key.Namespace, Name: key.Name, Kind: kedametrics.ScaledJob})
		j.c.opts.Metrics.PushHealth.forget("ScaledJob", key)
	}
}

// teardown forgets ScaledJob key: its triggers are unwatched, its values
// and metrics dropped. Its Jobs are the garbage collector's.
func (j *jobs) teardown(key types.NamespacedName) {
	c := j.c
	c.refs.Forget(jobRefOwner(key))
	j.mu.Lock()
	t := j.targets[key]
	delete(j.targets, key)
	j.mu.Unlock()
	if t == nil {
		return
	}
	c.forgetTriggers(t.owner, t.triggers)
	c.opts.Metrics.Keda.Forget(kedametrics.Object{Namespace: key.Namespace, Name: key.Name, Kind: kedametrics.ScaledJob})
	c.opts.Metrics.PushHealth.forget("ScaledJob", key)
	c.opts.Metrics.JobsCreated.DeletePartialMatch(map[string]string{"namespace": key.Namespace, "scaledJob": key.Name})
}
