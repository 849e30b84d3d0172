package scaler

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/pushscale/pushscale/store"
)

// Leadership tells the controller whether its replica leads (package
// leader's Elector, or a gateway's view of it).
//
// On every replica the controller keeps its informers synced, reconciles
// (so triggers stay watched and the sources subscribed, and the metrics API
// answers from this replica's store) and takes the store's changes into its
// decision queues. Only while Leading may it write: every write of the
// reconcile (finalizers, HPAs) is skipped on a standby, Events are
// dropped, and the decisions (scale, status, Jobs) do not run at all until
// Elected is closed: then every ScaledObject and ScaledJob is reconciled
// and decided again, on the values that arrived meanwhile. The gateway
// also fences the controller's client (leader.Fence), so a write that
// slipped past these gates is refused before it is sent.
type Leadership interface {
	// Leading reports whether this replica may write now.
	Leading() bool
	// Elected is closed once this replica leads; it is never reopened
	// (a replica that loses the lease exits).
	Elected() <-chan struct{}
}

// leading reports whether this replica may write (always, without a
// Leadership).
func (c *Controller) leading() bool {
	return c.opts.Leadership == nil || c.opts.Leadership.Leading()
}

// elected is closed once this replica may decide.
func (c *Controller) elected() <-chan struct{} {
	if c.opts.Leadership == nil {
		done := make(chan struct{})
		close(done)
		return done
	}
	return c.opts.Leadership.Elected()
}

// runDecisions runs the decision workers of the ScaledObjects and the
// ScaledJobs once this replica is elected, after queueing every object for
// a reconcile and a decision (a takeover: what the standby skipped is done
// now). The keys queued meanwhile by the store were kept, coalesced.
func (c *Controller) runDecisions(ctx context.Context, wg *sync.WaitGroup) {
	select {
	case <-ctx.Done():
		return
	case <-c.elected():
	}
	if c.opts.Leadership != nil {
		n := c.requeueAll()
		c.log.Info("leading: deciding every object again", "objects", n)
	}
	for range c.opts.Workers {
		wg.Add(2)
		go func() { defer wg.Done(); c.run(ctx, store.ScaledObject, c.decideQ, c.decide) }()
		go func() { defer wg.Done(); c.run(ctx, store.ScaledJob, c.jobs.decideQ, c.jobs.decide) }()
	}
}

// requeueAll queues every ScaledObject and ScaledJob for a reconcile and a
// decision, and returns how many there are.
func (c *Controller) requeueAll() int {
	n := 0
	for _, k := range c.soInformer.GetIndexer().ListKeys() {
		key := namespacedName(k)
		c.reconcileQ.Add(key)
		c.decideQ.Add(key)
		n++
	}
	for _, k := range c.jobs.sjInformer.GetIndexer().ListKeys() {
		key := namespacedName(k)
		c.jobs.reconcileQ.Add(key)
		c.jobs.decideQ.Add(key)
		n++
	}
	return n
}

func namespacedName(key string) types.NamespacedName {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	return types.NamespacedName{Namespace: ns, Name: name}
}

// leaderRecorder drops Events while its replica does not lead: the leader
// records them (a standby's reconcile sees the same transitions).
type leaderRecorder struct {
	record.EventRecorder
	leading func() bool
}

func (r leaderRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	if r.leading() {
		r.EventRecorder.Event(obj, eventtype, reason, message)
	}
}

func (r leaderRecorder) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	if r.leading() {
		r.EventRecorder.Eventf(obj, eventtype, reason, format, args...)
	}
}

func (r leaderRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, format string, args ...any) {
	if r.leading() {
		r.EventRecorder.AnnotatedEventf(obj, annotations, eventtype, reason, format, args...)
	}
}
