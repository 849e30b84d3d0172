package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// activationPause separates activations, so that each one starts from a
// quiet gateway and control plane: the previous one's status write and
// Event, and the ReplicaSet, Pod and status writes of the controllers
// that follow a scale from 0, take a few hundred milliseconds on 2 cores
// (at 50 ms apart the figure measured that cascade's contention).
const activationPause = 500 * time.Millisecond

// activationTimeout is how long one activation may take before the
// measurement is declared impossible.
const activationTimeout = 10 * time.Second

// LatencyResult is measurement 1: webhook POST → spec.replicas = 1.
type LatencyResult struct {
	Method      string  `json:"method"`
	Activations int     `json:"activations"`
	ToReplicas  Summary `json:"post_to_replicas_seen"`
	PostRTT     Summary `json:"post_round_trip"`
	// SamplesMs are the POST → spec.replicas=1 times in activation order.
	SamplesMs []float64 `json:"post_to_replicas_samples_ms"`
	// Gateway is the gateway's own histogram over the same activations.
	Gateway GatewayHistogram `json:"gateway_event_to_scale"`
	// CPU is what the machine did during the activations, IdleCPU in the
	// second before the first.
	CPU     cpuUse `json:"cpu"`
	IdleCPU cpuUse `json:"cpu_before"`
	// APIRequests are the most frequent apiserver requests during the
	// activations (from everyone).
	APIRequests []apiCount `json:"apiserver_requests"`
}

// GatewayHistogram summarizes pushscale_event_to_scale_seconds{source=
// "webhook"}: the observations made during the measurement. Quantiles are
// estimated from its buckets as histogram_quantile does.
type GatewayHistogram struct {
	Count        int     `json:"count"`
	MeanMs       float64 `json:"mean_ms"`
	P50Ms        float64 `json:"p50_ms_estimate"`
	P90Ms        float64 `json:"p90_ms_estimate"`
	P99Ms        float64 `json:"p99_ms_estimate"`
	ShareAtMost  float64 `json:"share_at_most_25ms"`
	BucketBounds string  `json:"bucket_bounds"`
}

const latencyNamespace = "bench-latency"

func measureLatency(ctx context.Context, e *env, cfg config) (*LatencyResult, error) {
	n := cfg.activations
	ns := latencyNamespace
	res := &LatencyResult{Activations: n, Method: fmt.Sprintf(
		"%d Deployments at 0 replicas in one namespace, each with a ScaledObject (one webhook trigger on its own stream with a bearer token, "+
			"targetValue 1, minReplicaCount 0, cooldownPeriod 86400), all Ready with their HPAs before the first POST. "+
			"One at a time, %s apart: t0 just before POST {\"value\": 1} (keep-alive connection, loopback), "+
			"t1 when a Deployment informer on the namespace delivers spec.replicas == 1 for that Deployment. "+
			"Sequential: no activation overlaps another.", n, activationPause)}

	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	if err := e.ensureHookAuth(ctx, ns); err != nil {
		return nil, err
	}
	objs := names("act", n)
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	ready, err := e.watchReadiness(ctx, ns, n)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := e.createDeployments(ctx, ns, objs); err != nil {
		ready.stop()
		return nil, err
	}
	err = e.createScaledObjects(ctx, ns, objs, func(i int) soSpec {
		return soSpec{stream: objs[i], target: "1", cooldown: 86400, maxReplicas: 1, authRef: hookAuth}
	})
	if err == nil {
		_, err = ready.wait(ctx, 2*time.Minute)
	}
	ready.stop()
	if err != nil {
		return nil, err
	}
	progress("latency: %d ScaledObjects Ready %s after the first create", n, time.Since(start).Round(10*time.Millisecond))
	_, took, err := e.settleDeployments(ctx, ns, n, 2*time.Minute)
	if err != nil {
		return nil, err
	}
	progress("latency: the deployment controller caught up %s later; activating one at a time", took.Round(100*time.Millisecond))

	before, err := scrapeHistogram(ctx, e.http, e.metrics, "pushscale_event_to_scale_seconds", map[string]string{"source": "webhook"})
	if err != nil {
		return nil, err
	}
	// Open the keep-alive connection before the first timed request (a GET
	// reads a level; it is no event).
	if code, body, err := e.get(ctx, e.streamURL(ns, objs[0]), e.token); err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("GET stream %s: %d %s %v", objs[0], code, body, err)
	}

	// What the machine does when nothing is activated, for comparison with
	// the CPU during the activations.
	idle := startCPU(e)
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	res.IdleCPU = idle.stop()

	toReplicas := make([]time.Duration, 0, n)
	rtt := make([]time.Duration, 0, n)
	req0 := e.apiserverRequestsOrNil(ctx)
	began := time.Now()
	cpu := startCPU(e)
	for i, name := range objs {
		if err := sleep(ctx, activationPause); err != nil {
			return nil, err
		}
		t0 := time.Now()
		code, body, err := e.post(ctx, e.streamURL(ns, name), `{"value": 1}`, e.token)
		answered := time.Now()
		if err != nil {
			return nil, fmt.Errorf("activation %d (%s): POST: %w", i, name, err)
		}
		if code != http.StatusAccepted {
			return nil, fmt.Errorf("activation %d (%s): POST answered %d %s", i, name, code, body)
		}
		select {
		case t1 := <-seen[name]:
			toReplicas = append(toReplicas, t1.Sub(t0))
			rtt = append(rtt, answered.Sub(t0))
		case <-time.After(activationTimeout):
			return nil, fmt.Errorf("activation %d (%s): spec.replicas did not become 1 within %s of the POST", i, name, activationTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	res.CPU = cpu.stop()
	res.APIRequests = topRates(req0, e.apiserverRequestsOrNil(ctx), time.Since(began).Seconds(), topRequests)
	after, err := scrapeHistogram(ctx, e.http, e.metrics, "pushscale_event_to_scale_seconds", map[string]string{"source": "webhook"})
	if err != nil {
		return nil, err
	}
	for _, d := range toReplicas {
		res.SamplesMs = append(res.SamplesMs, ms(d))
	}
	res.ToReplicas = summarize(toReplicas)
	res.PostRTT = summarize(rtt)
	res.Gateway = gatewaySummary(after.sub(before))

	// The activated Deployments' HPAs would poll the metrics API every
	// second for the rest of the run: remove them first.
	stopWatch()
	if err := e.deleteNamespace(ctx, ns, 2*time.Minute); err != nil {
		return nil, err
	}
	return res, nil
}

// watchReplicasOne runs a Deployment informer on ns and returns, per name,
// a channel receiving the time its handler saw spec.replicas become 1 (the
// first time only). stop ends the informer and waits for it.
func (e *env) watchReplicasOne(ctx context.Context, ns string, names []string) (map[string]chan time.Time, func(), error) {
	seen := make(map[string]chan time.Time, len(names))
	for _, n := range names {
		seen[n] = make(chan time.Time, 1)
	}
	note := func(old, cur any) {
		now := time.Now() // first: the delivery time is what is measured
		d, ok := cur.(*appsv1.Deployment)
		if !ok || d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
			return
		}
		if o, ok := old.(*appsv1.Deployment); ok && o.Spec.Replicas != nil && *o.Spec.Replicas == 1 {
			return // not a transition
		}
		if ch := seen[d.Name]; ch != nil {
			select {
			case ch <- now:
			default:
			}
		}
	}
	factory := informers.NewSharedInformerFactoryWithOptions(e.kube, 0, informers.WithNamespace(ns))
	inf := factory.Apps().V1().Deployments().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { note(nil, obj) },
		UpdateFunc: note,
	}); err != nil {
		return nil, nil, err
	}
	ictx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); inf.RunWithContext(ictx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	if !cache.WaitForCacheSync(ictx.Done(), inf.HasSynced) {
		stop()
		return nil, nil, fmt.Errorf("deployment informer of %s did not sync: %w", ns, ctx.Err())
	}
	return seen, stop, nil
}

func gatewaySummary(h histogram) GatewayHistogram {
	g := GatewayHistogram{Count: int(h.Count)}
	if h.Count > 0 {
		g.MeanMs = h.Sum / h.Count * 1000
		g.P50Ms = finite(h.quantile(0.50) * 1000)
		g.P90Ms = finite(h.quantile(0.90) * 1000)
		g.P99Ms = finite(h.quantile(0.99) * 1000)
		g.ShareAtMost = finite(h.fractionAtMost(0.025))
	}
	for i, b := range h.Buckets {
		if i > 0 {
			g.BucketBounds += " "
		}
		g.BucketBounds += fmt.Sprint(b.UpperBound)
	}
	return g
}

// finite maps NaN and infinities to 0: JSON has no NaN.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}
