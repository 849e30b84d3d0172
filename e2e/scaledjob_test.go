package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// TestScaledJobStrategies: with 4 items on the stream, maxReplicaCount 10
// and every Pod held Pending (pending = running), each strategy creates the
// Jobs KEDA's formula gives when applied until it creates no more (see
// TestCountJobsFixedPoint): default 4, custom (deduction 1, percentage 1)
// 3, accurate 4, eager 6, default with minReplicaCount 2: 6; and then none.
func TestScaledJobStrategies(t *testing.T) {
	cases := []struct {
		name  string
		extra string
		want  int
	}{
		{name: "default", want: 4},
		{name: "custom", extra: "  scalingStrategy:\n    strategy: custom\n    customScalingQueueLengthDeduction: 1\n    customScalingRunningJobPercentage: \"1\"", want: 3},
		{name: "accurate", extra: "  scalingStrategy:\n    strategy: accurate", want: 4},
		{name: "eager", extra: "  scalingStrategy:\n    strategy: eager", want: 6},
		// 2 Jobs at once for minReplicaCount, then 4 for the items (the
		// effective maximum is 10 - 2).
		{name: "min-replicas", extra: "  minReplicaCount: 2", want: 6},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns, jt := startScaledJob(t, "work", 10, tc.extra, true)
			postOK(t, ns, "items", `{"value": 4}`)
			jt.waitCreated(t, tc.want)
			waitSJCondition(t, ns, "work", kedav1.ConditionActive, metav1.ConditionTrue)
			if tc.name != "default" {
				return
			}
			sj := scaledJob(t, ns, "work")
			if sj.Status.TriggersTypes != "webhook" || !slices.Equal(sj.Status.ExternalMetricNames, []string{"s0-webhook-items"}) || sj.Status.LastActiveTime == nil {
				t.Fatalf("status %+v", sj.Status)
			}
			job, err := env.kube.BatchV1().Jobs(ns).Get(context.Background(), jt.names(unfinishedJobs)[0], metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ref := metav1.GetControllerOf(job)
			if job.Labels[kedav1.LabelScaledJobName] != "work" || job.Labels["team"] != "payments" || job.GenerateName != "work-" ||
				job.Annotations[kedav1.AnnotationScaledJobGeneration] != fmt.Sprint(sj.Generation) || ref == nil || ref.UID != sj.UID {
				t.Fatalf("job metadata %+v", job.ObjectMeta)
			}
			waitEvent(t, ns, "work", "KEDAJobsCreated", "Created 4 jobs")
			// KEDA's metrics, with its labels for ScaledJobs.
			waitGauge(t, "keda_scaler_metrics_value", fmt.Sprintf(`metric="s0-webhook-items",namespace="%s",scaledObject="work",scaler="webhook",triggerIndex="0",type="scaledjob"`, ns), 4)
			waitGauge(t, "keda_scaler_active", fmt.Sprintf(`metric="s0-webhook-items",namespace="%s",scaledObject="work",scaler="webhook",triggerIndex="0",type="scaledjob"`, ns), 1)
			waitGauge(t, "keda_scaled_job_errors_total", fmt.Sprintf(`namespace="%s",scaledJob="work"`, ns), 0)
			waitGauge(t, "pushscale_jobs_created_total", fmt.Sprintf(`namespace="%s",scaledJob="work"`, ns), 4)
		})
	}
}

// TestScaledJobBurstNeverOvershoots: 100 items at once, maxReplicaCount
// 10, a worker that pops one item per Job it finishes. Every Job ever
// created is seen through a watch: exactly 100 are created, never more
// than 10 run at once, finished Jobs make room for the next ones without
// any new item, and successfulJobsHistoryLimit keeps the newest 5.
func TestScaledJobBurstNeverOvershoots(t *testing.T) {
	ns, jt := startScaledJob(t, "burst", 10, "  successfulJobsHistoryLimit: 5", false)
	postOK(t, ns, "items", `{"value": 100}`)
	eventually(t, shortWait, "10 Jobs", func() (bool, error) {
		created, _, _ := jt.counts()
		return created == 10, fmt.Errorf("%d created", created)
	})
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	done := make(chan struct{})
	go func() { defer close(done); runWorker(ctx, jt, ns, "items", errs) }()
	defer func() { cancel(); <-done }()
	eventually(t, longWait, "100 Jobs created and finished", func() (bool, error) {
		select {
		case err := <-errs:
			t.Fatal(err)
		default:
		}
		created, running, maxRunning := jt.counts()
		if created > 100 || maxRunning > 10 {
			t.Fatalf("overshoot: %d Jobs created for 100 items, %d running at once (max 10)", created, maxRunning)
		}
		return created == 100 && running == 0, fmt.Errorf("%d created, %d running", created, running)
	})
	time.Sleep(holdFor)
	created, _, maxRunning := jt.counts()
	t.Logf("100 items: %d Jobs created, at most %d running at once", created, maxRunning)
	if created != 100 || maxRunning > 10 {
		t.Fatalf("overshoot: %d Jobs created for 100 items, %d running at once (max 10)", created, maxRunning)
	}
	eventually(t, shortWait, "5 finished Jobs kept", func() (bool, error) {
		kept := jt.names(func(_ *batchv1.Job, deleted, unfinished bool) bool { return !deleted })
		return len(kept) == 5, fmt.Errorf("kept %v", kept)
	})
}

// TestScaledJobFinishedJobsMakeRoom: with maxReplicaCount 2 and 4 items,
// 2 Jobs run; each finished one (its item popped) lets the next start with
// no new item.
func TestScaledJobFinishedJobsMakeRoom(t *testing.T) {
	ns, jt := startScaledJob(t, "room", 2, "", false)
	postOK(t, ns, "items", `{"value": 4}`)
	jt.waitCreated(t, 2)
	first := jt.names(unfinishedJobs)[0]
	if err := finishJob(context.Background(), ns, "items", first, true); err != nil {
		t.Fatal(err)
	}
	jt.waitCreated(t, 3)
}

// TestScaledJobHistoryLimits: the oldest finished Jobs beyond
// successfulJobsHistoryLimit and failedJobsHistoryLimit are deleted.
func TestScaledJobHistoryLimits(t *testing.T) {
	ns, jt := startScaledJob(t, "hist", 10, "  successfulJobsHistoryLimit: 2\n  failedJobsHistoryLimit: 1", false)
	postOK(t, ns, "items", `{"value": 5}`)
	jt.waitCreated(t, 5)
	jobs := jt.names(unfinishedJobs)
	for i, name := range jobs {
		// Finish one per second: completion times are whole seconds.
		if err := finishJob(context.Background(), ns, "items", name, i < 3); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond)
	}
	want := []string{jobs[1], jobs[2], jobs[4]}
	slices.Sort(want)
	eventually(t, shortWait, fmt.Sprintf("only %v kept", want), func() (bool, error) {
		kept := jt.names(func(_ *batchv1.Job, deleted, _ bool) bool { return !deleted })
		slices.Sort(kept)
		return slices.Equal(kept, want), fmt.Errorf("kept %v", kept)
	})
	if created, _, _ := jt.counts(); created != 5 {
		t.Fatalf("%d Jobs created for 5 items", created)
	}
}

// TestScaledJobRollout: a template change deletes the Jobs of the previous
// generation and creates new ones (default, with background or foreground
// propagation), or lets them run (gradual, also through the deprecated
// rolloutStrategy).
func TestScaledJobRollout(t *testing.T) {
	cases := []struct{ name, extra string }{
		{name: "default"},
		{name: "default-foreground", extra: "  rollout:\n    propagationPolicy: foreground"},
		{name: "gradual", extra: "  rollout:\n    strategy: gradual"},
		{name: "deprecated-gradual", extra: "  rolloutStrategy: gradual"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ns, jt := startScaledJob(t, "roll", 10, tc.extra, true)
			postOK(t, ns, "items", `{"value": 2}`)
			jt.waitCreated(t, 2)
			old := jt.names(unfinishedJobs)
			patchScaledJob(t, ns, "roll", map[string]any{"spec": map[string]any{"jobTargetRef": map[string]any{"template": map[string]any{"spec": map[string]any{
				"containers": []any{map[string]any{"name": "work", "image": "registry.invalid/pushscale/worker:2"}}}}}}})
			if !strings.HasPrefix(tc.name, "default") {
				jt.waitCreated(t, 2)
				if running := jt.names(unfinishedJobs); !slices.Equal(running, old) {
					t.Fatalf("gradual rollout: running %v, want the old %v", running, old)
				}
				return
			}
			jt.waitCreated(t, 4)
			eventually(t, shortWait, "the old Jobs deleted", func() (bool, error) {
				deleted := jt.names(func(_ *batchv1.Job, deleted, _ bool) bool { return deleted })
				return slices.Equal(deleted, old), fmt.Errorf("deleted %v, old %v", deleted, old)
			})
			waitEvent(t, ns, "roll", "ScaledJobRolloutCleanupCompleted", "Deleted 2 jobs")
		})
	}
}

// TestScaledJobPaused: the paused annotation stops creation; removing it
// resumes.
func TestScaledJobPaused(t *testing.T) {
	ns, jt := startScaledJob(t, "pause", 10, "", false)
	patchScaledJob(t, ns, "pause", map[string]any{"metadata": map[string]any{"annotations": map[string]any{kedav1.AnnotationPaused: "true"}}})
	waitSJCondition(t, ns, "pause", kedav1.ConditionPaused, metav1.ConditionTrue)
	postOK(t, ns, "items", `{"value": 3}`)
	jt.waitCreated(t, 0)
	patchScaledJob(t, ns, "pause", map[string]any{"metadata": map[string]any{"annotations": map[string]any{kedav1.AnnotationPaused: nil}}})
	waitSJCondition(t, ns, "pause", kedav1.ConditionPaused, metav1.ConditionFalse)
	jt.waitCreated(t, 3)
}

// TestScaledJobPendingPodConditions: with the accurate strategy, Jobs whose
// Pods lack the pendingPodConditions count as pending and hold new Jobs
// back; once their Pods meet them (still Pending), more Jobs are created:
// 4 items, max 10: 4 Jobs, then 4 more (4 + 4 - 0 ≤ 10 gives 4 - 0), then
// none (their Pods are pending).
func TestScaledJobPendingPodConditions(t *testing.T) {
	ns, jt := startScaledJob(t, "cond", 10, "  scalingStrategy:\n    strategy: accurate\n    pendingPodConditions: [\"Ready\", \"PodScheduled\"]", true)
	postOK(t, ns, "items", `{"value": 4}`)
	jt.waitCreated(t, 4)
	for _, name := range jt.names(unfinishedJobs) {
		eventually(t, shortWait, "the Pod of "+name, func() (bool, error) {
			n, err := env.kubelet.SetJobPodConditions(context.Background(), ns, name, corev1.PodReady, corev1.PodScheduled)
			return n > 0, err
		})
	}
	jt.waitCreated(t, 8)
}

// TestScaledJobDropsKEDAFinalizer: a ScaledJob migrated from KEDA carries
// finalizer.keda.sh; it is taken off (nothing is done on deletion), so the
// ScaledJob can be deleted, and its Jobs go with it.
func TestScaledJobDropsKEDAFinalizer(t *testing.T) {
	ns := newNamespace(t)
	jt := trackJobs(t, ns)
	manifest := strings.Replace(fmt.Sprintf(webhookSJ, "migrated", "items", 10, ""), "  labels:\n", "  finalizers: [finalizer.keda.sh]\n  labels:\n", 1)
	apply(t, ns, manifest)
	waitSJCondition(t, ns, "migrated", kedav1.ConditionReady, metav1.ConditionTrue)
	eventually(t, shortWait, "finalizer.keda.sh taken off", func() (bool, error) {
		f := scaledJob(t, ns, "migrated").Finalizers
		return len(f) == 0, fmt.Errorf("finalizers %v", f)
	})
	postOK(t, ns, "items", `{"value": 1}`)
	jt.waitCreated(t, 1)
	if err := dyn().Resource(resources["ScaledJob"]).Namespace(ns).Delete(context.Background(), "migrated", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "the ScaledJob and its Job gone", func() (bool, error) {
		_, err := dyn().Resource(resources["ScaledJob"]).Namespace(ns).Get(context.Background(), "migrated", metav1.GetOptions{})
		_, running, _ := jt.counts()
		return err != nil && running == 0, fmt.Errorf("get: %v, %d Jobs left", err, running)
	})
}
