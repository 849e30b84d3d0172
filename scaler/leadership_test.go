package scaler

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kubefake "k8s.io/client-go/kubernetes/fake"
	autoscalingv2listers "k8s.io/client-go/listers/autoscaling/v2"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/store"
)

// fakeLeadership is a Leadership a test steers.
type fakeLeadership struct {
	leading atomic.Bool
	elected chan struct{}
}

func newFakeLeadership(leading bool) *fakeLeadership {
	l := &fakeLeadership{elected: make(chan struct{})}
	l.leading.Store(leading)
	if leading {
		close(l.elected)
	}
	return l
}

func (l *fakeLeadership) Leading() bool            { return l.leading.Load() }
func (l *fakeLeadership) Elected() <-chan struct{} { return l.elected }

// hpaController is a Controller with a fake clientset and an empty HPA
// cache, enough for syncHPA and deleteOrphans.
func hpaController(lead Leadership) (*Controller, *kubefake.Clientset) {
	kube := kubefake.NewClientset()
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	return &Controller{
		opts: Options{Leadership: lead}, kube: kube, log: slog.New(slog.DiscardHandler),
		hpaLister: autoscalingv2listers.NewHorizontalPodAutoscalerLister(idx),
	}, kube
}

func wantedHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{
		Name: "keda-hpa-so", Namespace: "ns",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "keda.sh/v1alpha1", Kind: "ScaledObject", Name: "so", UID: "uid"}},
	}}
}

// TestStandbySkipsReconcileWrites: on a standby the reconcile's write
// paths (HPA, orphans, finalizers, the HPA of a deleted object) send
// nothing and fail nothing; the same call on the leader writes.
func TestStandbySkipsReconcileWrites(t *testing.T) {
	ctx := context.Background()
	newTarget := func() *target {
		return &target{owner: store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "so", UID: "uid"}, hpaKnown: true, hpaWant: wantedHPA()}
	}
	restoring := &kedav1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Name: "so", Namespace: "ns"},
		Spec: kedav1.ScaledObjectSpec{Advanced: &kedav1.AdvancedConfig{RestoreToOriginalReplicaCount: true}}}
	orphan := wantedHPA()

	standby, kube := hpaController(newFakeLeadership(false))
	if err := standby.syncHPA(ctx, newTarget()); err != nil {
		t.Fatalf("syncHPA on a standby: %v", err)
	}
	if err := standby.deleteOrphans(ctx, []*autoscalingv2.HorizontalPodAutoscaler{orphan}); err != nil {
		t.Fatalf("deleteOrphans on a standby: %v", err)
	}
	// keda is nil: a finalizer patch would panic.
	if err := standby.ensureFinalizer(ctx, restoring); err != nil {
		t.Fatalf("ensureFinalizer on a standby: %v", err)
	}
	if n := len(kube.Actions()); n != 0 {
		t.Fatalf("the standby sent %d requests: %v", n, kube.Actions())
	}

	leader, kube := hpaController(newFakeLeadership(true))
	if err := leader.syncHPA(ctx, newTarget()); err != nil {
		t.Fatalf("syncHPA on the leader: %v", err)
	}
	if acts := kube.Actions(); len(acts) != 1 || acts[0].GetVerb() != "create" {
		t.Fatalf("the leader sent %v, want the HPA created", acts)
	}
}

// TestLeaderRecorder: Events are recorded only while leading.
func TestLeaderRecorder(t *testing.T) {
	lead := newFakeLeadership(false)
	fake := record.NewFakeRecorder(10)
	rec := leaderRecorder{EventRecorder: fake, leading: lead.Leading}
	so := &kedav1.ScaledObject{}
	rec.Event(so, corev1.EventTypeNormal, "A", "standby")
	rec.Eventf(so, corev1.EventTypeNormal, "B", "%s", "standby")
	rec.AnnotatedEventf(so, nil, corev1.EventTypeNormal, "C", "%s", "standby")
	if n := len(fake.Events); n != 0 {
		t.Fatalf("a standby recorded %d Events", n)
	}
	lead.leading.Store(true)
	rec.Eventf(so, corev1.EventTypeNormal, "KEDAScaleTargetActivated", "%s", "leader")
	if n := len(fake.Events); n != 1 {
		t.Fatalf("the leader recorded %d Events, want 1", n)
	}
}

// TestDecisionsWaitForElection: a standby queues the store's changes but
// decides nothing; once elected it queues every object for a reconcile
// and a decision, and the decisions run.
func TestDecisionsWaitForElection(t *testing.T) {
	lead := newFakeLeadership(false)
	c := &Controller{
		opts:       Options{Leadership: lead, Workers: 2, Metrics: NewMetrics(nil)},
		log:        slog.New(slog.DiscardHandler),
		clock:      clock.RealClock{},
		targets:    map[types.NamespacedName]*target{},
		reconcileQ: newReconcileQueue("test-reconcile", nil),
		decideQ:    newDecideQueue("test-decide", clock.RealClock{}, nil),
		soInformer: cache.NewSharedIndexInformer(&cache.ListWatch{}, &kedav1.ScaledObject{}, 0, cache.Indexers{}),
	}
	c.jobs = &jobs{c: c, targets: map[types.NamespacedName]*jobTarget{},
		reconcileQ: newReconcileQueue("test-sj-reconcile", nil), decideQ: newDecideQueue("test-sj-decide", clock.RealClock{}, nil),
		sjInformer: cache.NewSharedIndexInformer(&cache.ListWatch{}, &kedav1.ScaledJob{}, 0, cache.Indexers{})}
	for _, name := range []string{"a", "b"} {
		if err := c.soInformer.GetIndexer().Add(&kedav1.ScaledObject{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.jobs.sjInformer.GetIndexer().Add(&kedav1.ScaledJob{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "j"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() {
		cancel()
		c.decideQ.ShutDown()
		c.jobs.decideQ.ShutDown()
		wg.Wait()
	}()
	c.Notify(store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "a"}) // a value arrived on the standby
	wg.Add(1)
	go func() { defer wg.Done(); c.runDecisions(ctx, &wg) }()

	time.Sleep(100 * time.Millisecond)
	if n := c.decideQ.Len(); n != 1 {
		t.Fatalf("a standby's decision queue holds %d keys, want the 1 queued (kept, not decided)", n)
	}
	if n := c.reconcileQ.Len(); n != 0 {
		t.Fatalf("reconciles queued before the election: %d", n)
	}

	lead.leading.Store(true)
	close(lead.elected)
	deadline := time.Now().Add(5 * time.Second)
	for c.decideQ.Len()+c.jobs.decideQ.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("decisions did not run after the election: %d and %d queued", c.decideQ.Len(), c.jobs.decideQ.Len())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n, m := c.reconcileQ.Len(), c.jobs.reconcileQ.Len(); n != 2 || m != 1 {
		t.Fatalf("takeover queued %d ScaledObject and %d ScaledJob reconciles, want 2 and 1", n, m)
	}
}
