// Package kubelet is a stand-in for the kubelet in the e2e control plane,
// which has no nodes. In the namespaces it manages it marks every new Pod
// Running and Ready, so the HPA's Ready-Pod arithmetic works, and on request
// it finishes a Job's Pods as Succeeded or Failed, so Jobs complete. A
// namespace can be held (Hold): its new Pods then stay Pending, with only
// the conditions a test sets (SetJobPodConditions), until it is released.
package kubelet

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/client-go/util/workqueue"
)

// StandIn marks Pods as a kubelet would. It is safe for concurrent use.
type StandIn struct {
	client kubernetes.Interface
	queue  workqueue.TypedRateLimitingInterface[types.NamespacedName]

	mu         sync.RWMutex
	namespaces map[string]bool
	held       map[string]bool
	lister     corelisters.PodLister
	synced     chan struct{}
}

// New returns a stand-in that manages no namespace yet.
func New(client kubernetes.Interface) *StandIn {
	return &StandIn{
		client:     client,
		queue:      workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[types.NamespacedName]()),
		namespaces: make(map[string]bool),
		held:       make(map[string]bool),
		synced:     make(chan struct{}),
	}
}

// Manage makes the stand-in run the Pods of namespace ns.
func (s *StandIn) Manage(ns string) {
	s.mu.Lock()
	s.namespaces[ns] = true
	s.mu.Unlock()
	// Pods created before Manage are picked up too.
	select {
	case <-s.synced:
		pods, _ := s.lister.Pods(ns).List(labels.Everything())
		for _, p := range pods {
			s.queue.Add(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		}
	default:
	}
}

// Forget stops managing namespace ns.
func (s *StandIn) Forget(ns string) {
	s.mu.Lock()
	delete(s.namespaces, ns)
	delete(s.held, ns)
	s.mu.Unlock()
}

// Hold keeps the Pending Pods of namespace ns Pending (hold true) until it
// is released (hold false): then they are run as any other.
func (s *StandIn) Hold(ns string, hold bool) {
	s.mu.Lock()
	if hold {
		s.held[ns] = true
	} else {
		delete(s.held, ns)
	}
	s.mu.Unlock()
	if !hold {
		s.Manage(ns) // requeues its Pods
	}
}

func (s *StandIn) isHeld(ns string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.held[ns]
}

// SetJobPodConditions sets each of conds True on every unfinished Pod of
// Job job in namespace ns, leaving its phase, and returns how many Pods it
// changed. It is how a test makes a held Pod meet pendingPodConditions.
func (s *StandIn) SetJobPodConditions(ctx context.Context, ns, job string, conds ...corev1.PodConditionType) (int, error) {
	pods, err := s.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return 0, fmt.Errorf("kubelet: list pods of job %s/%s: %w", ns, job, err)
	}
	n := 0
	now := metav1.Now()
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if err := s.updateStatus(ctx, pod, func(p *corev1.Pod) {
			for _, c := range conds {
				setCondition(p, c, now)
			}
		}); err != nil {
			return n, fmt.Errorf("kubelet: set conditions of pod %s/%s: %w", ns, pod.Name, err)
		}
		n++
	}
	return n, nil
}

// updateStatus applies change to pod and writes its status, reading the
// Pod again and retrying when someone else (the stand-in's own worker)
// wrote it first.
func (s *StandIn) updateStatus(ctx context.Context, pod *corev1.Pod, change func(*corev1.Pod)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		change(pod)
		_, err := s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			fresh, gerr := s.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
			if gerr != nil {
				return gerr
			}
			*pod = *fresh
		}
		return err
	})
}

func setCondition(pod *corev1.Pod, typ corev1.PodConditionType, now metav1.Time) {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == typ {
			pod.Status.Conditions[i].Status, pod.Status.Conditions[i].LastTransitionTime = corev1.ConditionTrue, now
			return
		}
	}
	pod.Status.Conditions = append(pod.Status.Conditions, corev1.PodCondition{Type: typ, Status: corev1.ConditionTrue, LastTransitionTime: now})
}

func (s *StandIn) managed(ns string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.namespaces[ns]
}

// Start watches Pods and runs them until ctx is done.
func (s *StandIn) Start(ctx context.Context) error {
	factory := informers.NewSharedInformerFactory(s.client, 0)
	inf := factory.Core().V1().Pods()
	s.lister = inf.Lister()
	enqueue := func(obj any) {
		if p, ok := obj.(*corev1.Pod); ok && s.managed(p.Namespace) {
			s.queue.Add(types.NamespacedName{Namespace: p.Namespace, Name: p.Name})
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	}); err != nil {
		return fmt.Errorf("kubelet: %w", err)
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.Informer().HasSynced) {
		return nil
	}
	close(s.synced)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	s.queue.ShutDown()
	wg.Wait()
	return nil
}

func (s *StandIn) next(ctx context.Context) bool {
	key, shutdown := s.queue.Get()
	if shutdown {
		return false
	}
	defer s.queue.Done(key)
	if err := s.run(ctx, key); err != nil && ctx.Err() == nil {
		s.queue.AddRateLimited(key)
		return true
	}
	s.queue.Forget(key)
	return true
}

// run marks a Pending Pod Running and Ready.
func (s *StandIn) run(ctx context.Context, key types.NamespacedName) error {
	if !s.managed(key.Namespace) {
		return nil
	}
	pod, err := s.lister.Pods(key.Namespace).Get(key.Name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if pod.DeletionTimestamp != nil || pod.Status.Phase != corev1.PodPending && pod.Status.Phase != "" || s.isHeld(key.Namespace) {
		return nil
	}
	pod = pod.DeepCopy()
	setRunning(pod, metav1.Now())
	_, err = s.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func setRunning(pod *corev1.Pod, now metav1.Time) {
	pod.Status.Phase = corev1.PodRunning
	pod.Status.StartTime = &now
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now},
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := true
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Ready: true, Started: &started,
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
}

// FinishJobPods ends every running Pod of Job job in namespace ns, as
// Succeeded (exit code 0) or Failed (exit code 1), and returns how many it
// ended.
func (s *StandIn) FinishJobPods(ctx context.Context, ns, job string, succeeded bool) (int, error) {
	pods, err := s.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "job-name=" + job})
	if err != nil {
		return 0, fmt.Errorf("kubelet: list pods of job %s/%s: %w", ns, job, err)
	}
	n := 0
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if err := s.updateStatus(ctx, pod, func(p *corev1.Pod) { finish(p, succeeded, metav1.Now()) }); err != nil {
			return n, fmt.Errorf("kubelet: finish pod %s/%s: %w", ns, pod.Name, err)
		}
		n++
	}
	return n, nil
}

func finish(pod *corev1.Pod, succeeded bool, now metav1.Time) {
	phase, code, reason := corev1.PodSucceeded, int32(0), "Completed"
	if !succeeded {
		phase, code, reason = corev1.PodFailed, 1, "Error"
	}
	start := now
	if pod.Status.StartTime != nil {
		start = *pod.Status.StartTime
	} else {
		pod.Status.StartTime = &now
	}
	pod.Status.Phase = phase
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "PodCompleted", LastTransitionTime: now},
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		started := false
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, Started: &started,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
				ExitCode: code, Reason: reason, StartedAt: start, FinishedAt: now,
			}},
		})
	}
}

// WaitSynced blocks until Start has synced its informer or ctx is done.
func (s *StandIn) WaitSynced(ctx context.Context) error {
	select {
	case <-s.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return fmt.Errorf("kubelet: informer not synced after a minute")
	}
}
