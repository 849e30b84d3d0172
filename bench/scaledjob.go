package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway"
)

// This file is the scaledjob part: item → Job created on a ScaledJob with
// a Redis list trigger, by push and by polling at 1 s (push disabled) in
// the same run, and how many Jobs a burst of items creates.

const (
	partScaledJob     = "scaledjob"
	sjPushNamespace   = "bench-sj-push"
	sjPollNamespace   = "bench-sj-poll"
	targetItemToJobMs = 100.0
)

// ScaledJobResult is the scaledjob part.
type ScaledJobResult struct {
	Method string            `json:"method"`
	Series []*ScaledJobItems `json:"series"`
	Burst  *ScaledJobBurst   `json:"burst,omitempty"`
}

// ScaledJobItems is one series of items.
type ScaledJobItems struct {
	Name             string  `json:"name"`
	Push             bool    `json:"push"`
	PollingIntervalS float64 `json:"polling_interval_s"`
	Items            int     `json:"items"`
	Schedule         string  `json:"schedule"`
	PushHealth       string  `json:"push_health"`
	ToJob            Summary `json:"lpush_to_job_seen"`
}

// ScaledJobBurst is a burst of items pushed at once.
type ScaledJobBurst struct {
	Items       int     `json:"items"`
	Created     int     `json:"jobs_created"`
	MaxReplicas int     `json:"max_replica_count"`
	AllS        float64 `json:"all_created_s"`
}

func scaledJobMethod(burst int) string {
	return fmt.Sprintf("One redis-server per series (loopback, notify-keyspace-events KA, a password through a TriggerAuthentication "+
		"secretTargetRef) and one ScaledJob of KEDA's shape: type redis, listName, listLength 1, pollingInterval 1, default "+
		"strategy, maxReplicaCount above the items; Jobs whose Pods never run (no kubelet), so every Job stays running and each "+
		"item adds exactly one Job. t0 just before LPUSH of one item (go-redis, keep-alive connection); t1 when a Job informer "+
		"on the namespace delivers the new Job's Add. (a) push, one item at a time %s apart, on the first gateway; (b) "+
		"pollingInterval 1 s on a gateway restarted with DisablePush [%q] watching %s only, each item at a random moment "+
		"within a second after the previous one's Job. Burst: %d LPUSHes back to back (one item each, one connection) on "+
		"another ScaledJob (maxReplicaCount %d) on the push gateway; every Job created is counted through the informer "+
		"until none came for 3 s.", activationPause, redisType, sjPollNamespace, burst, 2*burst)
}

// jobWatch delivers the creation of every Job of a namespace.
type jobWatch struct {
	mu    sync.Mutex
	count map[string]int // Jobs seen, by ScaledJob
	added chan string    // the ScaledJob of each new Job
	stop  func()
}

func (e *env) watchJobs(ctx context.Context, ns string) (*jobWatch, error) {
	w := &jobWatch{count: map[string]int{}, added: make(chan string, 10_000)}
	wctx, cancel := context.WithCancel(ctx)
	factory := informers.NewSharedInformerFactoryWithOptions(e.kube, 0, informers.WithNamespace(ns))
	inf := factory.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) {
		job := obj.(*batchv1.Job)
		sj := job.Labels[kedav1.LabelScaledJobName]
		w.mu.Lock()
		w.count[sj]++
		w.mu.Unlock()
		select {
		case w.added <- sj:
		default:
		}
	}}); err != nil {
		cancel()
		return nil, err
	}
	factory.Start(wctx.Done())
	w.stop = func() { cancel(); factory.Shutdown() }
	if !cache.WaitForCacheSync(wctx.Done(), inf.HasSynced) {
		w.stop()
		return nil, fmt.Errorf("job informer did not sync")
	}
	return w, nil
}

func (w *jobWatch) created(sj string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.count[sj]
}

// next waits for the next Job of ScaledJob sj and returns when it was seen.
func (w *jobWatch) next(ctx context.Context, sj string, timeout time.Duration) (time.Time, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case got := <-w.added:
			if got == sj {
				return time.Now(), nil
			}
		case <-t.C:
			return time.Time{}, fmt.Errorf("no Job of %s within %s", sj, timeout)
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// createScaledJob creates ScaledJob name on list of r, and waits until it
// is Ready.
func (e *env) createScaledJob(ctx context.Context, ns, name string, r *redisServer, list string, maxReplicas int32) error {
	sj := &kedav1.ScaledJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1.SchemeGroupVersion.String(), Kind: kedav1.KindScaledJob},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: kedav1.ScaledJobSpec{
			PollingInterval: ptr.To[int32](1), MaxReplicaCount: ptr.To(maxReplicas),
			JobTargetRef: &batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "work", Image: "registry.invalid/pushscale/worker:1"}},
			}}},
			Triggers: []kedav1.ScaleTrigger{{Type: redisType, AuthenticationRef: &kedav1.AuthenticationRef{Name: r.auth},
				Metadata: map[string]string{"address": r.srv.Addr(), "listName": list, "listLength": "1"}}},
		},
	}
	if err := e.keda.Post().Namespace(ns).Resource("scaledjobs").Body(sj).Do(ctx).Error(); err != nil {
		return fmt.Errorf("create ScaledJob %s/%s: %w", ns, name, err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		var got kedav1.ScaledJob
		if err := e.keda.Get().Namespace(ns).Resource("scaledjobs").Name(name).Do(ctx).Into(&got); err != nil {
			return err
		}
		if got.Status.Conditions.IsTrue(kedav1.ConditionReady) {
			return nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("ScaledJob %s/%s not Ready within a minute", ns, name)
}

// pushHealthOf returns ScaledJob ns/name's PushHealthy condition, as
// "<status> <reason>".
func (e *env) pushHealthOf(ctx context.Context, ns, name string) string {
	var got kedav1.ScaledJob
	if err := e.keda.Get().Namespace(ns).Resource("scaledjobs").Name(name).Do(ctx).Into(&got); err != nil {
		return err.Error()
	}
	c, _ := got.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
	return fmt.Sprintf("PushHealthy %s %s", c.Status, c.Reason)
}

// measureScaledJob runs the part: (a) push with the burst, then (b) polling.
func measureScaledJob(ctx context.Context, e *env, cfg config) (*ScaledJobResult, error) {
	burst := 100
	if cfg.smoke {
		burst = 20
	}
	res := &ScaledJobResult{Method: scaledJobMethod(burst)}
	for _, poll := range []bool{false, true} {
		s, b, err := e.scaledJobSeries(ctx, cfg, poll, burst)
		if s != nil {
			res.Series = append(res.Series, s)
		}
		if b != nil {
			res.Burst = b
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func (e *env) scaledJobSeries(ctx context.Context, cfg config, poll bool, burst int) (*ScaledJobItems, *ScaledJobBurst, error) {
	ns, name, n := sjPushNamespace, "(a) push", cfg.activations
	if poll {
		ns, name, n = sjPollNamespace, "(b) polling at 1 s", cfg.pollTargets
	}
	if err := e.useGateway(ctx, pollingOnIf(poll, ns)); err != nil {
		return nil, nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, nil, err
	}
	r, err := e.startRedis(ctx, ns, "redis-sj", notifyAll)
	if err != nil {
		return nil, nil, err
	}
	defer r.close()
	w, err := e.watchJobs(ctx, ns)
	if err != nil {
		return nil, nil, err
	}
	defer w.stop()
	if err := e.createScaledJob(ctx, ns, "items", r, "items", int32(n+10)); err != nil {
		return nil, nil, err
	}
	s := &ScaledJobItems{Name: name, Push: !poll, PollingIntervalS: 1, Items: n}
	s.PushHealth = e.pushHealthOf(ctx, ns, "items")
	progress("scaledjob %s: %d items (%s)", name, n, s.PushHealth)
	rdb := r.srv.Client()
	samples := make([]time.Duration, 0, n)
	s.Schedule = fmt.Sprintf("one at a time, %s apart", activationPause)
	if poll {
		s.Schedule = "one at a time, each at a random moment within a second after the previous one's Job"
	}
	for i := range n {
		pause := activationPause
		if poll {
			pause = rand.N(time.Second)
		}
		if err := sleep(ctx, pause); err != nil {
			return s, nil, err
		}
		t0 := time.Now()
		if err := rdb.LPush(ctx, "items", fmt.Sprint(i)).Err(); err != nil {
			return s, nil, fmt.Errorf("LPUSH: %w", err)
		}
		t1, err := w.next(ctx, "items", 3*time.Second+activationTimeout)
		if err != nil {
			return s, nil, fmt.Errorf("item %d: %w", i, err)
		}
		samples = append(samples, t1.Sub(t0))
	}
	s.ToJob = summarize(samples)
	progress("scaledjob %s: p50 %s, p99 %s", name, fmtMs(s.ToJob.P50Ms), fmtMs(s.ToJob.P99Ms))
	if got := w.created("items"); got != n {
		return s, nil, fmt.Errorf("%s: %d Jobs for %d items", name, got, n)
	}
	var b *ScaledJobBurst
	if !poll {
		if b, err = e.scaledJobBurst(ctx, ns, r, w, burst); err != nil {
			return s, b, err
		}
	}
	return s, b, e.deleteNamespace(ctx, ns, 0)
}

// pollingOnIf is pollingOn(ns) for the polled series, the first gateway
// otherwise.
func pollingOnIf(poll bool, ns string) func(*gateway.Options) {
	if !poll {
		return nil
	}
	return pollingOn(ns)
}

// scaledJobBurst pushes n items back to back on a ScaledJob of its own and
// counts the Jobs created until none came for 3 s.
func (e *env) scaledJobBurst(ctx context.Context, ns string, r *redisServer, w *jobWatch, n int) (*ScaledJobBurst, error) {
	// maxReplicaCount twice the items: only the expectations stand between
	// quick successive decisions and more Jobs than items.
	if err := e.createScaledJob(ctx, ns, "burst", r, "burst", int32(2*n)); err != nil {
		return nil, err
	}
	b := &ScaledJobBurst{Items: n, MaxReplicas: 2 * n}
	rdb := r.srv.Client()
	start := time.Now()
	for i := range n {
		if err := rdb.LPush(ctx, "burst", fmt.Sprint(i)).Err(); err != nil {
			return b, fmt.Errorf("LPUSH: %w", err)
		}
	}
	last, created := time.Now(), 0
	for time.Since(last) < 3*time.Second {
		if got := w.created("burst"); got != created {
			created, last = got, time.Now()
			b.AllS = last.Sub(start).Seconds()
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return b, err
		}
	}
	b.Created = created
	progress("scaledjob burst: %d items → %d Jobs in %.2f s", n, created, b.AllS)
	return b, nil
}

// printScaledJob writes the part's figures.
func printScaledJob(w io.Writer, r *ScaledJobResult) {
	fmt.Fprintf(w, "\nScaledJob: item (LPUSH) → Job created, push and polling, and a burst\n")
	wrap(w, "   method: ", r.Method)
	for _, s := range r.Series {
		fmt.Fprintf(w, "   %s (%d items, %s; %s): p50 %s, p90 %s, p99 %s, max %s\n", s.Name, s.Items, s.Schedule, s.PushHealth,
			fmtMs(s.ToJob.P50Ms), fmtMs(s.ToJob.P90Ms), fmtMs(s.ToJob.P99Ms), fmtMs(s.ToJob.MaxMs))
	}
	if b := r.Burst; b != nil {
		fmt.Fprintf(w, "   burst: %d items → %d Jobs created (maxReplicaCount %d), the last %.2f s after the first LPUSH\n", b.Items, b.Created, b.MaxReplicas, b.AllS)
	}
}

// checkScaledJob adds the part's checks: item → Job p99 ≤ 100 ms with
// push, and a burst that creates exactly one Job per item.
func (r *Report) checkScaledJob() {
	res := r.ScaledJob
	if res == nil {
		return
	}
	for _, s := range res.Series {
		if s.Push {
			r.Checks = append(r.Checks, Check{What: "ScaledJob item → Job created, p99, " + s.Name,
				Target: fmt.Sprintf("≤ %g ms", targetItemToJobMs), Got: fmtMs(s.ToJob.P99Ms), Pass: s.ToJob.P99Ms <= targetItemToJobMs})
		}
	}
	if b := res.Burst; b != nil {
		r.Checks = append(r.Checks, Check{What: fmt.Sprintf("ScaledJob burst of %d items", b.Items),
			Target: fmt.Sprintf("%d Jobs (no overshoot)", b.Items), Got: fmt.Sprintf("%d Jobs", b.Created), Pass: b.Created == b.Items})
	}
}
