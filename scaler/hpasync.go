package scaler

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// syncHPA makes the target's HPA what the reconcile and the decision want:
// none while paused, while the object holds no target, or while the
// decision sets it aside at a non-zero idleReplicaCount; else hpaWant,
// adopted when the object asks for it. An HPA the object owned under
// another name (a renamed one) is deleted first. Until the first decision
// of an object with a non-zero idleReplicaCount no HPA is created: the
// target may be idle, and the HPA would lift it to its minReplicas at once.
//
// It is called by the reconcile and by the decision of the same object,
// possibly at once: hpaMu serialises them, and each call acts on the
// latest wishes of both.
//
// A standby writes nothing: the wishes stay recorded for a takeover's
// reconcile.
func (c *Controller) syncHPA(ctx context.Context, t *target) error {
	if !c.leading() {
		return nil
	}
	t.hpaMu.Lock()
	defer t.hpaMu.Unlock()
	t.mu.RLock()
	want, known, adopt, aside, have, def := t.hpaWant, t.hpaKnown, t.hpaAdopt, t.hpaAside, t.hpaName, t.hpaDefault
	idle, decided := t.so != nil && t.so.Spec.IdleReplicaCount != nil && *t.so.Spec.IdleReplicaCount > 0, t.decided
	t.mu.RUnlock()
	if !known {
		return nil
	}
	if aside {
		want = nil
	}
	ns, uid := t.owner.Namespace, string(t.owner.UID)
	if have != "" && (want == nil || want.Name != have) {
		if err := c.deleteOwnedHPA(ctx, ns, have, uid); err != nil {
			return err
		}
		c.log.Info("HPA deleted", "namespace", ns, "scaledObject", t.owner.Name, "hpa", have)
		c.setHPAName(t, "")
	}
	if want == nil {
		// The name the spec gives may exist without our knowing (a
		// status write lost to a restart): the cache tells.
		if h, err := c.hpaLister.HorizontalPodAutoscalers(ns).Get(def); err == nil && h.Name != have {
			if ref := metav1.GetControllerOf(h); ref != nil && string(ref.UID) == uid {
				return c.deleteOwnedHPA(ctx, ns, def, uid)
			}
		}
		return nil
	}
	if idle && !decided {
		return nil
	}
	adopted, err := c.ensureHPA(ctx, want, adopt)
	if err != nil {
		return err
	}
	c.setHPAName(t, want.Name)
	if adopted {
		t.mu.RLock()
		so := t.so
		t.mu.RUnlock()
		c.event(so, false, "HPAOwnershipTransferred", "Took over HPA %s (%s: \"true\")", want.Name, kedav1.AnnotationTransferHPAOwnership)
	}
	return nil
}

func (c *Controller) setHPAName(t *target, name string) {
	t.mu.Lock()
	t.hpaName = name
	t.mu.Unlock()
}
