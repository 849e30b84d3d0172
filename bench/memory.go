package main

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/pushscale/pushscale/e2e/controlplane"
)

// ScaleResult is measurement 3: many ScaledObjects becoming Ready, and the
// memory they cost.
type ScaleResult struct {
	Method  string `json:"method"`
	Objects int    `json:"objects"`
	// Seconds from the first create: the last create answered, the last
	// ScaledObject Ready, the last HPA seen, and both (the figure).
	CreatedS   float64 `json:"created_s"`
	LastReadyS float64 `json:"last_ready_s"`
	LastHPAS   float64 `json:"last_hpa_s"`
	ReadyS     float64 `json:"all_ready_with_hpas_s"`

	HeapInuseBeforeMiB float64 `json:"heap_inuse_before_mib"`
	HeapInuseAfterMiB  float64 `json:"heap_inuse_after_mib"`
	HeapPerObjectKiB   float64 `json:"heap_per_object_kib"`
	RSSBeforeMiB       float64 `json:"rss_before_mib"`
	RSSAfterMiB        float64 `json:"rss_after_mib"`
	// DeploymentsSettled counts the Deployments the deployment controller
	// had processed when the first ScaledObject was created.
	DeploymentsSettled int `json:"deployments_settled"`
}

const scaleNamespace = "bench-scale"

// scaleReadyTimeout bounds the wait for every ScaledObject to be Ready;
// well above the 15 s target so a miss is still measured.
const scaleReadyTimeout = 3 * time.Minute

// prepareScale creates the namespace and the cfg.objects Deployments (at
// 0) of measureScale. It runs before the throughput runs, so that the
// deployment controller has time to work through them (this harness's
// kube-controller-manager has a client rate limit, see controllerManagerQPS).
func prepareScale(ctx context.Context, e *env, cfg config) ([]string, error) {
	if err := e.createNamespace(ctx, scaleNamespace); err != nil {
		return nil, err
	}
	if err := e.ensureHookAuth(ctx, scaleNamespace); err != nil {
		return nil, err
	}
	objs := names("so", cfg.objects)
	progress("scale: creating %d Deployments ahead", len(objs))
	return objs, e.createDeployments(ctx, scaleNamespace, objs)
}

// measureScale creates one idle ScaledObject per Deployment of
// prepareScale (each on its own stream) and measures the time until all
// are Ready with their HPAs, then the memory in use. It returns the
// streams' URLs for throughput (c); the objects stay.
func measureScale(ctx context.Context, e *env, cfg config, objs []string) (*ScaleResult, []string, error) {
	n, ns := len(objs), scaleNamespace
	settled, _, err := e.settleDeployments(ctx, ns, n, 0)
	if err != nil {
		return nil, nil, err
	}
	res := &ScaleResult{Objects: n, DeploymentsSettled: settled, Method: fmt.Sprintf(
		"%d Deployments at 0 created beforehand (not timed; %d of them already processed by the deployment controller, "+
			"which runs at --kube-api-qps %s in this harness, when the first ScaledObject was created); then %d ScaledObjects "+
			"(webhook trigger on its own stream with a bearer token, activationTargetValue 1e12, targetValue 1e12: never active) created through a client "+
			"with QPS 1000 / burst 2000, %d creates in flight. Time from the first create until a watch has delivered Ready=True "+
			"for every ScaledObject and every HPA; the gateway's own client runs at --kube-api-qps %g / --kube-api-burst %d. "+
			"Memory: Go HeapInuse after runtime.GC() and VmRSS of this process, before the ScaledObjects and after they are Ready, "+
			"with the bench's own watches stopped; the process holds the gateway and the bench (load generator idle, informers stopped).",
		n, settled, controllerManagerQPS(), n, createWorkers, cfg.gatewayQPS, cfg.gatewayBurst)}

	heap0, rss0, err := memoryInUse()
	if err != nil {
		return nil, nil, err
	}
	ready, err := e.watchReadiness(ctx, ns, n)
	if err != nil {
		return nil, nil, err
	}
	progress("scale: creating %d ScaledObjects", n)
	start := time.Now()
	err = e.createScaledObjects(ctx, ns, objs, func(i int) soSpec { return idleSpec(objs[i], hookAuth) })
	created := time.Since(start)
	var times readyTimes
	if err == nil {
		times, err = ready.wait(ctx, scaleReadyTimeout)
	}
	ready.stop()
	if err != nil {
		return nil, nil, err
	}
	res.CreatedS = created.Seconds()
	res.LastReadyS = times.LastReady.Sub(start).Seconds()
	res.LastHPAS = times.LastHPA.Sub(start).Seconds()
	res.ReadyS = times.Done.Sub(start).Seconds()
	progress("scale: %d ScaledObjects Ready with their HPAs in %.1f s", n, res.ReadyS)

	heap1, rss1, err := memoryInUse()
	if err != nil {
		return nil, nil, err
	}
	res.HeapInuseBeforeMiB, res.HeapInuseAfterMiB = mib(heap0), mib(heap1)
	res.RSSBeforeMiB, res.RSSAfterMiB = mib(rss0), mib(rss1)
	res.HeapPerObjectKiB = (float64(heap1) - float64(heap0)) / 1024 / float64(n)

	urls := make([]string, n)
	for i, o := range objs {
		urls[i] = e.streamURL(ns, o)
	}
	return res, urls, nil
}

// measureManyStreams is throughput (c): requests spread round-robin over
// the streams of measureScale.
func measureManyStreams(ctx context.Context, e *env, cfg config, urls []string) (*ThroughputResult, error) {
	name := fmt.Sprintf("(c) %d streams, Bearer token", len(urls))
	g, err := e.useGatewayProcess(ctx, nil) // as in measureIngest
	if err != nil {
		return nil, err
	}
	l := loadSpec{
		name: name, urls: urls, token: e.token, profile: cfg.profilePath(name), serverPID: g.pid(),
		conns: cfg.conns, warmup: cfg.warmup, window: cfg.duration,
	}
	if l.profile != "" {
		l.profileServer = g.metrics
	}
	res, err := runLoad(ctx, e, l)
	if rerr := e.useGateway(ctx, nil); rerr != nil && err == nil {
		err = rerr
	}
	return res, err
}

// memoryInUse returns HeapInuse after a garbage collection, and VmRSS.
func memoryInUse() (heap, rss uint64, err error) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	rss, err = rssBytes()
	return m.HeapInuse, rss, err
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// controllerManagerQPS is the client rate of the harness's
// kube-controller-manager, from its flags.
func controllerManagerQPS() string {
	for _, f := range controlplane.ControllerManagerFlags {
		if v, ok := strings.CutPrefix(f, "--kube-api-qps="); ok {
			return v
		}
	}
	return "20 (its default)"
}
