package scaler

import (
	"sync"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// watched is one trigger handed to the sources.
type watched struct {
	index      int
	typ        string
	name       string
	spec       sources.Spec
	metricType autoscalingv2.MetricTargetType
	trigger    sources.Trigger
}

// target is the controller's state of one ScaledObject. Its fields are
// guarded by its own mu (Controller.mu guards only the map of targets), so
// one object's reconcile or decision never waits for another's. A target
// is only mutated by the worker that holds its key (the workqueues hand a
// key to one worker at a time), except the HPA fields, which the reconcile
// and the decision of one key may both set: hpaMu serialises the API calls
// that act on them (see syncHPA).
type target struct {
	mu    sync.RWMutex
	owner store.Owner
	so    *kedav1.ScaledObject
	// seenAt is when this gateway first saw the object.
	seenAt time.Time
	gvkr   kedav1.GroupVersionKindResource
	// valid is false when the object cannot be scaled; triggers is then
	// empty, except when refused.
	valid bool
	// refused is set while a source refuses one of triggers (they stay
	// watched: see sources.Checker); their values are not served.
	refused     bool
	triggers    []watched
	fingerprint string
	// mods is advanced.scalingModifiers, compiled (nil: none).
	mods *modifiers
	// resources are the names (cpu, memory) of the cpu and memory
	// triggers: HPA resource metrics, not watched.
	resources []string
	// ready is the Ready condition the reconcile computed.
	ready kedav1.Condition
	// ctl are the annotations that steer scaling, as the reconcile last
	// applied them (the HPA is deleted before paused is set).
	ctl controls

	lastActive time.Time
	wasActive  bool
	decided    bool // at least one decision made
	replicas   int32
	replicasAt time.Time
	// replicasStale is set when a conditional write found other replicas
	// than replicas: the next decision reads them first.
	replicasStale bool
	written       *kedav1.ScaledObjectStatus // last status written
	lastActiveAt  time.Time                  // when lastActiveTime was last written
	// failedReads is each trigger's store.Entry.FailedReads as last
	// exported to keda_scaler_detail_errors_total.
	failedReads map[int]uint64

	hpaMu sync.Mutex
	// hpaWant is the HPA the reconcile wants (nil: none, e.g. paused);
	// hpaKnown is false until the first reconcile set it.
	hpaWant  *autoscalingv2.HorizontalPodAutoscaler
	hpaKnown bool
	// hpaAdopt allows taking over an HPA of that name (transfer-hpa-ownership).
	hpaAdopt bool
	// hpaDefault is the name the object's HPA has by its spec.
	hpaDefault string
	// hpaAside is set by the decision while the target is held at a
	// non-zero idleReplicaCount: the HPA must not exist then.
	hpaAside bool
	// hpaName is the name of the object's HPA as far as we know ("":
	// none), so a renamed one can be deleted.
	hpaName string
}

// targetFor returns the target of key, creating it for so (or replacing
// one of a deleted object of the same name). It sets t.so.
func (c *Controller) targetFor(key types.NamespacedName, so *kedav1.ScaledObject) *target {
	owner := store.Owner{Kind: store.ScaledObject, Namespace: so.Namespace, Name: so.Name, UID: so.UID}
	c.mu.Lock()
	t := c.targets[key]
	if t != nil && t.owner.UID != so.UID { // deleted and recreated
		c.mu.Unlock()
		c.teardown(key)
		c.mu.Lock()
		t = c.targets[key]
	}
	if t == nil {
		t = &target{owner: owner, hpaName: so.Status.HpaName, seenAt: c.clock.Now()}
		if so.Status.LastActiveTime != nil { // cooldown resumes from status
			t.lastActive = so.Status.LastActiveTime.Time
		}
		c.targets[key] = t
		c.opts.Metrics.ScaledObjects.Set(float64(len(c.targets)))
	}
	c.mu.Unlock()
	t.mu.Lock()
	t.so = so
	t.mu.Unlock()
	return t
}

// target returns the target of key, nil when there is none.
func (c *Controller) target(key types.NamespacedName) *target {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.targets[key]
}
