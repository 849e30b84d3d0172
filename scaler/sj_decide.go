package scaler

import (
	"github.com/pushscale/pushscale/scaler/kedametrics"

	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// maxParallelCreates bounds the Job creations one decision has in flight.
const maxParallelCreates = 16

// decide is one turn of a ScaledJob's loop: input (trigger values from the
// store, Jobs and Pods from the informers plus expectations) → CountJobs →
// execute (create Jobs; delete outdated and surplus finished ones) →
// report (status, Events, metrics). It runs for every store change of the
// ScaledJob, every Job and Pod change, after every reconcile, and every
// pollingInterval.
func (j *jobs) decide(ctx context.Context, key types.NamespacedName) error {
	c := j.c
	j.mu.Lock()
	t := j.targets[key]
	if t == nil {
		j.mu.Unlock()
		return nil
	}
	sj, valid, ready, paused, triggers := t.sj, t.valid && !t.refused, t.ready, t.paused, t.triggers
	j.mu.Unlock()
	defer j.forgetMetricsIfGone(key, t)

	// From what was last written: the cached object's status is not
	// updated by our own writes.
	j.mu.Lock()
	base := t.written
	j.mu.Unlock()
	if base == nil {
		base = &sj.Status
	}
	status := base.DeepCopy()
	if len(status.Conditions) == 0 {
		status.Conditions = kedav1.InitConditions()
	}
	status.Conditions.SetCondition(ready.Type, ready.Status, ready.Reason, ready.Message)
	c.declareKeda(sj.Namespace, sj.Name, kedametrics.ScaledJob, triggers, false)
	setJobPaused(status, paused)
	describeJob(sj, status, triggers)
	if !valid {
		status.Conditions.SetCondition(kedav1.ConditionActive, metav1.ConditionUnknown, kedav1.ReasonUnknownState, "ScaledJob check failed")
		return j.writeStatus(ctx, t, sj, status)
	}
	if paused {
		// As KEDA, whose loop stops: nothing is created or deleted.
		return j.writeStatus(ctx, t, sj, status)
	}

	entries := c.opts.Store.Owner(t.owner)
	in := JobInput{MinReplicaCount: sj.Spec.MinReplicaCount, MaxReplicaCount: sj.Spec.MaxReplicaCount, ScalingStrategy: sj.Spec.ScalingStrategy}
	var newest time.Time // time of the newest active value, for item→Job latency
	var source string
	failing, newFailures := 0, 0
	for _, w := range triggers {
		e := entries[w.index]
		in.Triggers = append(in.Triggers, JobTrigger{Known: e.Known, Failing: e.Failures > 0, Value: e.Value, Target: w.spec.Target, Activation: w.spec.Activation})
		if e.Known && e.Value > w.spec.Activation && e.At.After(newest) {
			newest, source = e.At, w.typ
		}
		if e.Failures > 0 {
			failing++
		}
		j.mu.Lock()
		seen := t.failedReads[w.index]
		j.mu.Unlock()
		if e.FailedReads > seen {
			newFailures += int(e.FailedReads - seen)
		}
		c.observeTrigger(sj.Namespace, sj.Name, kedametrics.ScaledJob, t.failedReads, w, e)
	}
	c.opts.Metrics.Keda.RecordJobErrors(kedametrics.Object{Namespace: sj.Namespace, Name: sj.Name, Kind: kedametrics.ScaledJob}, newFailures)

	jobs := j.ownJobs(key)
	var errs []error
	if sj.Spec.RolloutStrategyOrDefault() != kedav1.RolloutStrategyGradual {
		errs = append(errs, j.rollout(ctx, t, sj, outdated(jobs, sj.Generation)))
	}
	in.Running, in.Pending, jobs = j.count(t, sj, jobs)
	d := CountJobs(in)
	if d.Create > 0 {
		errs = append(errs, j.create(ctx, t, sj, int(d.Create), newest, source))
	}
	errs = append(errs, j.deleteJobs(ctx, t, sj, beyondHistory(jobs, sj.Spec.SuccessfulJobsHistoryLimitOrDefault(), sj.Spec.FailedJobsHistoryLimitOrDefault()),
		metav1.DeletePropagationBackground, "history limit"))

	now := c.clock.Now()
	j.mu.Lock()
	wasActive := t.wasActive
	t.wasActive = d.Active
	if d.Active {
		t.lastActive = now
	}
	lastActive, writeLastActive := t.lastActive, d.Active != wasActive || now.Sub(t.lastActiveAt) >= refreshEvery(sj.Spec.PollingIntervalOrDefault(), true)
	prev := t.written
	j.mu.Unlock()
	if prev == nil {
		prev = &sj.Status
	}
	j.setJobActivity(sj, status, d.Active, wasActive, failing, len(triggers))
	c.updatePushHealth(sj, prev.Conditions, &status.Conditions, triggers, entries)
	if !lastActive.IsZero() && writeLastActive {
		status.LastActiveTime = &metav1.Time{Time: lastActive}
	}
	errs = append(errs, j.writeStatus(ctx, t, sj, status))
	j.decideQ.AddAfter(key, sj.Spec.PollingIntervalOrDefault())
	return errors.Join(errs...)
}

// ownJobs returns the ScaledJob's Jobs as the informer has them.
func (j *jobs) ownJobs(key types.NamespacedName) []*batchv1.Job {
	objs, _ := j.jobInformer.GetIndexer().ByIndex(byScaledJob, key.String())
	out := make([]*batchv1.Job, 0, len(objs))
	for _, o := range objs {
		out = append(out, o.(*batchv1.Job))
	}
	return out
}

// count returns the running and pending Jobs of sj, as KEDA counts them,
// with the expectations: a Job created but not shown by the informer yet
// is running and pending; a Job being deleted (by us, or with a
// deletionTimestamp) is not counted. It also returns the Jobs that are not
// being deleted. Expectations older than expectationTTL are dropped.
func (j *jobs) count(t *jobTarget, sj *kedav1.ScaledJob, all []*batchv1.Job) (running, pending int64, live []*batchv1.Job) {
	now := j.c.clock.Now()
	conds := sj.Spec.ScalingStrategy.PendingPodConditions
	shown := make(map[string]bool, len(all))
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, job := range all {
		shown[job.Name] = true
		if _, ok := t.deleting[job.Name]; ok || job.DeletionTimestamp != nil {
			continue
		}
		live = append(live, job)
		if jobFinished(job) {
			continue
		}
		running++
		if jobPending(j.podsOf(job), conds) {
			pending++
		}
	}
	for name, at := range t.unseen {
		switch {
		case shown[name]:
			delete(t.unseen, name) // its Add is on its way
		case now.Sub(at) > expectationTTL:
			delete(t.unseen, name)
		default:
			running++
			pending++
		}
	}
	for name, at := range t.deleting {
		if !shown[name] || now.Sub(at) > expectationTTL {
			delete(t.deleting, name)
		}
	}
	return running, pending, live
}

func (j *jobs) podsOf(job *batchv1.Job) []*corev1.Pod {
	objs, _ := j.podInformer.GetIndexer().ByIndex(byJob, job.Namespace+"/"+job.Name)
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		pods = append(pods, o.(*corev1.Pod))
	}
	return pods
}

// create creates n Jobs for sj, at most maxParallelCreates at a time, each
// remembered as an expectation until the informer shows it.
func (j *jobs) create(ctx context.Context, t *jobTarget, sj *kedav1.ScaledJob, n int, newest time.Time, source string) error {
	c := j.c
	var (
		wg       sync.WaitGroup
		sem      = make(chan struct{}, maxParallelCreates)
		errMu    sync.Mutex
		created  int
		firstErr error
	)
	for range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			job, err := c.kube.BatchV1().Jobs(sj.Namespace).Create(ctx, newJob(sj), metav1.CreateOptions{})
			if err == nil {
				j.mu.Lock()
				// Shown already if its Add came first (the indexer is
				// updated before handlers run).
				if _, shown, _ := j.jobInformer.GetIndexer().GetByKey(job.Namespace + "/" + job.Name); !shown {
					t.unseen[job.Name] = c.clock.Now()
				}
				j.mu.Unlock()
			}
			errMu.Lock()
			defer errMu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			created++
		}()
	}
	wg.Wait()
	if created > 0 {
		c.opts.Metrics.JobsCreated.WithLabelValues(sj.Namespace, sj.Name).Add(float64(created))
		if !newest.IsZero() {
			c.opts.Metrics.EventToScale.WithLabelValues(source).Observe(c.clock.Since(newest).Seconds())
		}
		c.event(sj, false, "KEDAJobsCreated", "Created %d jobs", created)
		c.log.Info("created jobs", "namespace", sj.Namespace, "scaledJob", sj.Name, "jobs", created)
	}
	if firstErr != nil {
		c.event(sj, true, "KEDAJobCreateFailed", "Failed to create %d of %d job(s) %s-: %v", n-created, n, sj.Name, firstErr)
		c.opts.Metrics.Keda.RecordJobErrors(kedametrics.Object{Namespace: sj.Namespace, Name: sj.Name, Kind: kedametrics.ScaledJob}, 1)
		return fmt.Errorf("scaler: create jobs of ScaledJob %s/%s: %w", sj.Namespace, sj.Name, firstErr)
	}
	return nil
}

// rollout deletes the Jobs of older generations (default rollout), with
// rollout.propagationPolicy, and records KEDA's Events.
func (j *jobs) rollout(ctx context.Context, t *jobTarget, sj *kedav1.ScaledJob, old []*batchv1.Job) error {
	old = j.notDeleting(t, old)
	if len(old) == 0 {
		return nil
	}
	policy := metav1.DeletePropagationBackground
	if sj.Spec.PropagationPolicyOrDefault() == kedav1.PropagationPolicyForeground {
		policy = metav1.DeletePropagationForeground
	}
	j.c.event(sj, false, "ScaledJobRolloutCleanupStarted", "Deleting %d jobs owned by the previous version of the scaledJob", len(old))
	if err := j.deleteJobs(ctx, t, sj, old, policy, "rollout"); err != nil {
		j.c.event(sj, true, "ScaledJobRolloutCleanupFailed", "%v", err)
		return err
	}
	j.c.event(sj, false, "ScaledJobRolloutCleanupCompleted", "Deleted %d jobs owned by the previous version of the scaledJob", len(old))
	return nil
}

func (j *jobs) notDeleting(t *jobTarget, list []*batchv1.Job) []*batchv1.Job {
	j.mu.Lock()
	defer j.mu.Unlock()
	var out []*batchv1.Job
	for _, job := range list {
		if _, ok := t.deleting[job.Name]; !ok && job.DeletionTimestamp == nil {
			out = append(out, job)
		}
	}
	return out
}

// deleteJobs deletes list (why: for the log), remembering each as being
// deleted until the informer drops it.
func (j *jobs) deleteJobs(ctx context.Context, t *jobTarget, sj *kedav1.ScaledJob, list []*batchv1.Job, policy metav1.DeletionPropagation, why string) error {
	for _, job := range j.notDeleting(t, list) {
		err := j.c.kube.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
			PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &job.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("scaler: delete job %s/%s (%s): %w", job.Namespace, job.Name, why, err)
		}
		j.mu.Lock()
		t.deleting[job.Name] = j.c.clock.Now()
		j.mu.Unlock()
		j.c.log.Info("deleted job", "namespace", sj.Namespace, "scaledJob", sj.Name, "job", job.Name, "reason", why)
	}
	return nil
}
