package scaler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler/refcache"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// jobRefOwnerKind is the refcache owner kind of ScaledJobs.
const jobRefOwnerKind = "ScaledJob"

func jobRefOwner(key types.NamespacedName) refcache.Owner {
	return refcache.Owner{Kind: jobRefOwnerKind, Namespace: key.Namespace, Name: key.Name}
}

// reconcile validates a ScaledJob, resolves its triggers and hands them to
// the sources, then has the decision run. Its Jobs are the decision's.
func (j *jobs) reconcile(ctx context.Context, key types.NamespacedName) error {
	c := j.c
	obj, exists, err := j.sjInformer.GetIndexer().GetByKey(key.String())
	if err != nil {
		return err
	}
	if !exists {
		j.teardown(key)
		return nil
	}
	sj := obj.(*kedav1.ScaledJob).DeepCopy()
	// A ScaledJob needs nothing done on deletion (its Jobs are the
	// garbage collector's): KEDA's finalizer, which ScaledJobs migrated
	// from KEDA carry, is taken off.
	if slices.Contains(sj.Finalizers, kedav1.Finalizer) && c.leading() {
		if err := c.patchFinalizers(ctx, "scaledjobs", sj, slices.DeleteFunc(slices.Clone(sj.Finalizers), func(f string) bool { return f == kedav1.Finalizer })); err != nil {
			return err
		}
	}
	if sj.DeletionTimestamp != nil {
		j.teardown(key)
		return nil
	}
	t := j.targetFor(key, sj)
	paused := kedav1.AnnotationTrue(sj.Annotations, kedav1.AnnotationPaused)
	j.mu.Lock()
	wasPaused := t.paused
	if t.ready.Type == "" {
		wasPaused = sj.Status.Conditions.IsTrue(kedav1.ConditionPaused)
	}
	t.paused = paused
	j.mu.Unlock()
	switch {
	case paused && !wasPaused:
		c.event(sj, false, kedav1.ReasonScaledJobPaused, scaledJobPausedMessage)
	case !paused && wasPaused:
		c.event(sj, false, kedav1.ReasonScaledJobUnpaused, scaledJobUnpausedMessage)
	}

	rd := c.refs.Reader(jobRefOwner(key))
	ws, problem, unsupported := j.check(ctx, rd, sj, t.owner)
	rd.Close()
	if problem != "" {
		_ = c.rewatch(j.triggersOf(t), nil, func(now []watched) { j.swapTriggers(t, now, "") })
		j.invalid(key, t, problem)
		return nil
	}
	fp := triggersFingerprint(sj.UID, ws)
	msg, err := c.watchTriggers(sj, t.fingerprint, fp, ws, func() error {
		return c.rewatch(j.triggersOf(t), ws, func(now []watched) {
			if now == nil {
				j.swapTriggers(t, nil, "")
				return
			}
			j.swapTriggers(t, now, fp)
		})
	})
	if err != nil {
		j.invalid(key, t, err.Error())
		return nil
	}
	j.mu.Lock()
	t.refused = msg != ""
	j.mu.Unlock()
	if msg != "" {
		j.invalid(key, t, msg)
		return nil
	}
	ready := kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionTrue, Reason: kedav1.ReasonScaledJobReady,
		Message: "ScaledJob is defined correctly and is ready to scaling"}
	if len(unsupported) > 0 {
		ready = kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionFalse, Reason: ReasonUnsupportedTrigger,
			Message: fmt.Sprintf("trigger type(s) not supported by pushscale: %s; the other triggers work", strings.Join(unsupported, ", "))}
	}
	j.mu.Lock()
	before := t.ready
	t.valid, t.ready = true, ready
	j.mu.Unlock()
	if before.Type == "" {
		before, _ = sj.Status.Conditions.GetCondition(kedav1.ConditionReady)
	}
	if ready.Status == metav1.ConditionTrue && before.Status != metav1.ConditionTrue {
		c.event(sj, false, kedav1.ReasonScaledJobReady, "ScaledJob is ready for scaling")
	}
	j.decideQ.Add(key)
	return nil
}

// swapTriggers sets t's watched triggers and fingerprint.
func (j *jobs) swapTriggers(t *jobTarget, ws []watched, fp string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	t.triggers, t.fingerprint = ws, fp
}

// triggersOf returns t's watched triggers.
func (j *jobs) triggersOf(t *jobTarget) []watched {
	j.mu.Lock()
	defer j.mu.Unlock()
	return t.triggers
}

// check validates sj and parses its triggers: the watched triggers, a
// problem that makes the ScaledJob unusable ("" if none), and the trigger
// types no source serves (the others work).
func (j *jobs) check(ctx context.Context, rd *refcache.Reader, sj *kedav1.ScaledJob, owner store.Owner) ([]watched, string, []string) {
	c := j.c
	if err := sj.Validate(); err != nil {
		return nil, err.Error(), nil
	}
	template := func() (*corev1.PodTemplateSpec, error) { return &sj.Spec.JobTargetRef.Template, nil }
	envs, defaultEnv, err := c.resolveEnv(ctx, rd, sj.Namespace, sj.Spec.Triggers, template, "spec.envSourceContainerName", sj.Spec.EnvSourceContainerName)
	if err != nil {
		return nil, err.Error(), nil
	}
	var ws []watched
	var problems, unsupported []string
	for i, tr := range sj.Spec.Triggers {
		w, err := c.watchedTrigger(ctx, rd, sj, store.Key{Owner: owner, Trigger: i}, tr, sj.Spec.PollingIntervalOrDefault(), envs, defaultEnv)
		switch {
		case errors.Is(err, sources.ErrUnsupported):
			unsupported = append(unsupported, tr.Type)
		case err != nil:
			problems = append(problems, fmt.Sprintf("trigger %d (%s): %v", i, tr.Type, err))
		default:
			ws = append(ws, w)
		}
	}
	return ws, strings.Join(problems, "; "), unsupported
}

// invalid records that the ScaledJob cannot be scaled, for the reason msg
// (Ready=False ScaledJobCheckFailed, with an Event when the reason is
// new), and has the decision write it.
func (j *jobs) invalid(key types.NamespacedName, t *jobTarget, msg string) {
	ready := kedav1.Condition{Type: kedav1.ConditionReady, Status: metav1.ConditionFalse, Reason: kedav1.ReasonScaledJobCheckFailed, Message: msg}
	j.mu.Lock()
	changed := t.ready != ready
	t.valid, t.ready = false, ready
	sj := t.sj
	j.mu.Unlock()
	if changed {
		j.c.event(sj, true, kedav1.ReasonScaledJobCheckFailed, "%s", msg)
	}
	j.decideQ.Add(key)
}
