package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// readiness follows the ScaledObjects and HPAs of one namespace on watches
// and notes the moment when want ScaledObjects are Ready=True and want HPAs
// exist. Times are taken when the watch delivers the event, so they include
// the apiserver's watch delay (milliseconds). Safe for concurrent use.
type readiness struct {
	want int
	// only, when set, restricts the count to these ScaledObjects and
	// their HPAs (kedav1.HPANamePrefix + name); otherwise every one of the
	// namespace counts.
	only map[string]bool

	mu      sync.Mutex
	ready   map[string]bool // ScaledObject name → Ready=True
	hpas    map[string]bool
	readyAt time.Time // when the last ScaledObject became Ready
	hpaAt   time.Time // when the last HPA appeared
	doneAt  time.Time
	done    chan struct{} // closed at doneAt

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// watchReadiness starts the watches of ns. Call stop when done with it.
func (e *env) watchReadiness(ctx context.Context, ns string, want int) (*readiness, error) {
	return e.watchReadinessOf(ctx, ns, want, nil)
}

// watchReadinessOf is watchReadiness counting only the ScaledObjects
// named in only (all when nil), for a namespace that holds others.
func (e *env) watchReadinessOf(ctx context.Context, ns string, want int, only []string) (*readiness, error) {
	r := &readiness{want: want, ready: map[string]bool{}, hpas: map[string]bool{}, done: make(chan struct{})}
	if only != nil {
		r.only = make(map[string]bool, len(only))
		for _, n := range only {
			r.only[n] = true
		}
	}
	ctx, r.cancel = context.WithCancel(ctx)

	soInf := cache.NewSharedIndexInformer(cache.NewListWatchFromClient(e.keda, "scaledobjects", ns, fields.Everything()),
		&kedav1.ScaledObject{}, 0, cache.Indexers{})
	onSO := func(obj any) {
		if so, ok := obj.(*kedav1.ScaledObject); ok {
			r.setReady(so.Name, so.Status.Conditions.IsTrue(kedav1.ConditionReady))
		}
	}
	if _, err := soInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: onSO, UpdateFunc: func(_, n any) { onSO(n) },
	}); err != nil {
		r.cancel()
		return nil, err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(e.kube, 0, informers.WithNamespace(ns),
		informers.WithTransform(slimObject))
	hpaInf := factory.Autoscaling().V2().HorizontalPodAutoscalers().Informer()
	// Only names and conditions are kept: with thousands of objects the
	// watches' caches would otherwise weigh on the memory the bench
	// measures in this same process.
	if err := soInf.SetTransform(slimObject); err != nil {
		r.cancel()
		return nil, err
	}
	if _, err := hpaInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if h, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler); ok {
				r.addHPA(h.Name)
			}
		},
	}); err != nil {
		r.cancel()
		return nil, err
	}
	for _, inf := range []cache.SharedIndexInformer{soInf, hpaInf} {
		r.wg.Add(1)
		go func() { defer r.wg.Done(); inf.RunWithContext(ctx) }()
	}
	if !cache.WaitForCacheSync(ctx.Done(), soInf.HasSynced, hpaInf.HasSynced) {
		r.stop()
		return nil, fmt.Errorf("watching %s: caches did not sync: %w", ns, context.Cause(ctx))
	}
	return r, nil
}

// slimObject is the readiness watches' transform: a ScaledObject keeps its
// name and conditions, an HPA its name; anything else passes unchanged.
func slimObject(obj any) (any, error) {
	switch o := obj.(type) {
	case *kedav1.ScaledObject:
		return &kedav1.ScaledObject{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, ResourceVersion: o.ResourceVersion},
			Status:     kedav1.ScaledObjectStatus{Conditions: o.Status.Conditions},
		}, nil
	case *autoscalingv2.HorizontalPodAutoscaler:
		return &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace, ResourceVersion: o.ResourceVersion},
		}, nil
	}
	return obj, nil
}

func (r *readiness) setReady(name string, ready bool) {
	if r.only != nil && !r.only[name] {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ready && !r.ready[name] {
		r.ready[name] = true
		r.readyAt = time.Now()
		r.check()
	}
	// Ready going False again is not expected here; the first Ready=True
	// is what is measured.
}

func (r *readiness) addHPA(name string) {
	if r.only != nil && !r.only[strings.TrimPrefix(name, kedav1.HPANamePrefix)] {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.hpas[name] {
		r.hpas[name] = true
		r.hpaAt = time.Now()
		r.check()
	}
}

// check closes done the first time everything is there; mu is held.
func (r *readiness) check() {
	if r.doneAt.IsZero() && len(r.ready) >= r.want && len(r.hpas) >= r.want {
		r.doneAt = time.Now()
		close(r.done)
	}
}

// readyTimes are the moments of a readiness wait.
type readyTimes struct {
	LastReady, LastHPA, Done time.Time
}

// wait blocks until everything is Ready, ctx is done or timeout passes.
func (r *readiness) wait(ctx context.Context, timeout time.Duration) (readyTimes, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-r.done:
	case <-ctx.Done():
		return readyTimes{}, ctx.Err()
	case <-t.C:
		r.mu.Lock()
		defer r.mu.Unlock()
		return readyTimes{}, fmt.Errorf("after %s only %d of %d ScaledObjects are Ready and %d of %d HPAs exist",
			timeout, len(r.ready), r.want, len(r.hpas), r.want)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return readyTimes{LastReady: r.readyAt, LastHPA: r.hpaAt, Done: r.doneAt}, nil
}

// stop ends the watches and waits for them; their caches become garbage.
func (r *readiness) stop() {
	r.cancel()
	r.wg.Wait()
}

// counts returns how many ScaledObjects are Ready and how many HPAs exist
// so far.
func (r *readiness) counts() (ready, hpas int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ready), len(r.hpas)
}
