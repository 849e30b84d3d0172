package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// webhookSJ is a ScaledJob on a webhook stream: name, stream,
// maxReplicaCount, then extra spec lines (indented two spaces).
const webhookSJ = `
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: %[1]s
  labels:
    team: payments
spec:
  pollingInterval: 1
  maxReplicaCount: %[3]d
%[4]s
  jobTargetRef:
    backoffLimit: 0
    template:
      spec:
        restartPolicy: Never
        containers:
        - name: work
          image: registry.invalid/pushscale/worker:1
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: %[2]s
      targetValue: "1"
`

// startScaledJob creates a namespace (its Pods held Pending if hold), a
// tracker of its Jobs, and ScaledJob name of webhookSJ on stream "items",
// and waits until it is Ready.
func startScaledJob(t *testing.T, name string, maxReplicas int, extra string, hold bool) (string, *jobTracker) {
	t.Helper()
	ns := newNamespace(t)
	env.kubelet.Hold(ns, hold)
	jt := trackJobs(t, ns)
	apply(t, ns, fmt.Sprintf(webhookSJ, name, "items", maxReplicas, extra))
	waitSJCondition(t, ns, name, kedav1.ConditionReady, metav1.ConditionTrue)
	return ns, jt
}

// scaledJob returns the ScaledJob ns/name.
func scaledJob(t *testing.T, ns, name string) *kedav1.ScaledJob {
	t.Helper()
	u, err := dyn().Resource(resources["ScaledJob"]).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get ScaledJob %s/%s: %v", ns, name, err)
	}
	var sj kedav1.ScaledJob
	data, _ := json.Marshal(u.Object)
	if err := json.Unmarshal(data, &sj); err != nil {
		t.Fatal(err)
	}
	return &sj
}

// waitSJCondition waits until ScaledJob ns/name has condition typ with status.
func waitSJCondition(t *testing.T, ns, name string, typ kedav1.ConditionType, status metav1.ConditionStatus) kedav1.Condition {
	t.Helper()
	var c kedav1.Condition
	eventually(t, shortWait, fmt.Sprintf("ScaledJob %s %s=%s", name, typ, status), func() (bool, error) {
		c, _ = scaledJob(t, ns, name).Status.Conditions.GetCondition(typ)
		return c.Status == status, fmt.Errorf("%s: %+v", typ, c)
	})
	return c
}

// patchScaledJob applies a JSON merge patch to ScaledJob ns/name.
func patchScaledJob(t *testing.T, ns, name string, patch any) {
	t.Helper()
	body, err := json.Marshal(patch)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dyn().Resource(resources["ScaledJob"]).Namespace(ns).Patch(context.Background(), name, types.MergePatchType, body, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patch ScaledJob %s: %v", name, err)
	}
}

// postStream posts a JSON body to a stream, retrying while the gateway
// answers 429 or 503 (the e2e gateway limits each stream to 50 events/s).
func postStream(ctx context.Context, ns, stream, body string) error {
	url := fmt.Sprintf("%s/v1/namespaces/%s/streams/%s", gw.webhook, ns, stream)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusAccepted:
			return nil
		case http.StatusTooManyRequests, http.StatusServiceUnavailable:
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		default:
			return fmt.Errorf("POST %s to %s: %s", body, stream, resp.Status)
		}
	}
}

// jobTracker sees every Job of a namespace through a watch (an informer):
// every Job ever created, and the most that were unfinished at once.
type jobTracker struct {
	mu         sync.Mutex
	jobs       map[string]*batchv1.Job // latest state, deleted ones included
	deleted    map[string]bool
	unfinished map[string]bool
	maxRunning int
}

// trackJobs starts a tracker on namespace ns for the test's lifetime.
func trackJobs(t *testing.T, ns string) *jobTracker {
	t.Helper()
	jt := &jobTracker{jobs: map[string]*batchv1.Job{}, deleted: map[string]bool{}, unfinished: map[string]bool{}}
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactoryWithOptions(env.kube, 0, informers.WithNamespace(ns))
	inf := factory.Batch().V1().Jobs().Informer()
	update := func(obj any, gone bool) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		job, ok := obj.(*batchv1.Job)
		if !ok {
			return
		}
		jt.mu.Lock()
		defer jt.mu.Unlock()
		jt.jobs[job.Name] = job
		finished := false
		for _, c := range job.Status.Conditions {
			if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
				finished = true
			}
		}
		if gone {
			jt.deleted[job.Name] = true
		}
		if gone || finished {
			delete(jt.unfinished, job.Name)
		} else {
			jt.unfinished[job.Name] = true
		}
		jt.maxRunning = max(jt.maxRunning, len(jt.unfinished))
	}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { update(obj, false) },
		UpdateFunc: func(_, obj any) { update(obj, false) },
		DeleteFunc: func(obj any) { update(obj, true) },
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	t.Cleanup(func() { cancel(); factory.Shutdown() })
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("job informer did not sync")
	}
	return jt
}

// counts returns the Jobs ever created, unfinished now, and the most
// unfinished at once.
func (jt *jobTracker) counts() (created, running, maxRunning int) {
	jt.mu.Lock()
	defer jt.mu.Unlock()
	return len(jt.jobs), len(jt.unfinished), jt.maxRunning
}

// names returns the Jobs matching keep, oldest first.
func (jt *jobTracker) names(keep func(j *batchv1.Job, deleted, unfinished bool) bool) []string {
	jt.mu.Lock()
	defer jt.mu.Unlock()
	var list []*batchv1.Job
	for name, j := range jt.jobs {
		if keep(j, jt.deleted[name], jt.unfinished[name]) {
			list = append(list, j)
		}
	}
	sort.Slice(list, func(a, b int) bool {
		if !list[a].CreationTimestamp.Equal(&list[b].CreationTimestamp) {
			return list[a].CreationTimestamp.Before(&list[b].CreationTimestamp)
		}
		return list[a].Name < list[b].Name
	})
	var out []string
	for _, j := range list {
		out = append(out, j.Name)
	}
	return out
}

func unfinishedJobs(j *batchv1.Job, deleted, unfinished bool) bool { return unfinished }

// waitCreated waits until exactly want Jobs were ever created, then checks
// that no more are created for holdFor.
func (jt *jobTracker) waitCreated(t *testing.T, want int) {
	t.Helper()
	eventually(t, shortWait, fmt.Sprintf("%d Jobs created", want), func() (bool, error) {
		created, _, _ := jt.counts()
		if created > want {
			t.Fatalf("%d Jobs created, want %d", created, want)
		}
		return created == want, fmt.Errorf("%d created", created)
	})
	time.Sleep(holdFor)
	if created, _, _ := jt.counts(); created != want {
		t.Fatalf("%d Jobs created after %s, want %d", created, holdFor, want)
	}
}

// finishJob is the test's worker doing one unit of work: it pops one item
// from the stream ({"delta": -1}), then ends the Job's Pods.
func finishJob(ctx context.Context, ns, stream, job string, succeeded bool) error {
	if err := postStream(ctx, ns, stream, `{"delta": -1}`); err != nil {
		return err
	}
	for {
		n, err := env.kubelet.FinishJobPods(ctx, ns, job, succeeded)
		if err != nil || n > 0 {
			return err
		}
		select { // its Pod is not created yet
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runWorker finishes every unfinished Job of jt, one item popped per Job,
// until ctx is done. Errors go to errs.
func runWorker(ctx context.Context, jt *jobTracker, ns, stream string, errs chan<- error) {
	done := map[string]bool{}
	for ctx.Err() == nil {
		for _, name := range jt.names(unfinishedJobs) {
			if done[name] {
				continue
			}
			done[name] = true
			if err := finishJob(ctx, ns, stream, name, true); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
