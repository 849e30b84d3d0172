package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/pushscale/pushscale/gateway"
)

// MemoryResult is measurement 6: the gateway's memory with many
// ScaledObjects.
type MemoryResult struct {
	Method string `json:"method"`
	// Goal is the count the part grows to if its time allows.
	Goal int `json:"goal"`
	// The gateway with no ScaledObject, then after each batch.
	BaselineHeapMiB        float64       `json:"baseline_heap_inuse_mib"`
	BaselineRSSMiB         float64       `json:"baseline_rss_mib"`
	BaselineRSSReleasedMiB float64       `json:"baseline_rss_released_mib"`
	Steps                  []*MemoryStep `json:"steps"`
	// Stopped says why the growth ended short of Goal ("" if it did not).
	Stopped string `json:"stopped,omitempty"`
}

// MemoryStep is the memory once a number of ScaledObjects exist.
type MemoryStep struct {
	Objects int `json:"objects"`
	// Ready and HPAs count the ScaledObjects Ready=True and the HPAs
	// present when the memory was read; AllReady is false when the step's
	// time ran out first.
	Ready    int  `json:"ready"`
	HPAs     int  `json:"hpas"`
	AllReady bool `json:"all_ready"`
	// Seconds from the batch's first ScaledObject create: its last create
	// answered, and every ScaledObject so far Ready with its HPA.
	CreatedS float64 `json:"created_s"`
	ReadyS   float64 `json:"all_ready_with_hpas_s,omitempty"`

	HeapInuseMiB float64 `json:"heap_inuse_mib"`
	// HeapPerObjectKiB is the heap this batch added, per ScaledObject it
	// added.
	HeapPerObjectKiB float64 `json:"heap_per_object_added_kib"`
	// RSSMiB is VmRSS after the GC; RSSReleasedMiB after the freed memory
	// was also returned to the OS (debug.FreeOSMemory).
	RSSMiB         float64 `json:"rss_mib"`
	RSSReleasedMiB float64 `json:"rss_released_mib"`
	// APIRequests are the most frequent apiserver requests (everyone's)
	// from the batch's first create until it was measured.
	APIRequests []apiCount `json:"apiserver_requests"`
}

const memoryNamespace = "bench-memory"

// measureMemory grows one namespace to cfg.memoryObjects ScaledObjects in
// batches of cfg.memoryBatch, reading the memory after each, and stops
// early at the largest count that was all Ready within cfg.memoryBudget
// (counted after the first batch). The objects stay (it is the last
// measurement; the control plane goes with them).
func measureMemory(ctx context.Context, e *env, cfg config) (*MemoryResult, error) {
	ns := memoryNamespace
	res := &MemoryResult{Goal: cfg.memoryObjects, Method: fmt.Sprintf(
		"One gateway restarted in this process watching %s only (push, --kube-api-qps %g --kube-api-burst %d), one "+
			"redis-server with notify-keyspace-events KA. Up to %s ScaledObjects in batches of %s: each batch creates "+
			"its Deployments at 0, then its ScaledObjects (KEDA's redis list shape: address, listName: its own empty "+
			"list, listLength 1, password through one TriggerAuthentication; never active), %d creates in flight "+
			"through a client at QPS 1000, and waits until a watch has delivered Ready=True for every ScaledObject so "+
			"far and every HPA. Then, with the bench's watches stopped: Go HeapInuse after runtime.GC(), and VmRSS of "+
			"this process, which holds the gateway and the bench (idle; its clients hold no caches), before and after "+
			"debug.FreeOSMemory(). The batches after the first may take %s in all: the next one starts only if the "+
			"last one's time still fits. The controller manager processes the Deployments at its own pace: at 0 "+
			"replicas nothing waits for it.",
		ns, cfg.memoryQPS, int(2*cfg.memoryQPS), thousands(int64(cfg.memoryObjects)), thousands(int64(cfg.memoryBatch)),
		createWorkers, cfg.memoryBudget)}

	if err := e.useGateway(ctx, func(o *gateway.Options) {
		o.WatchNamespace = ns
		o.KubeAPIQPS, o.KubeAPIBurst = cfg.memoryQPS, int(2*cfg.memoryQPS)
	}); err != nil {
		return nil, err
	}
	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	srv, err := e.startRedis(ctx, ns, "redis-memory")
	if err != nil {
		return nil, err
	}
	defer srv.close()
	heap0, rss0, released0, err := settledMemory(ctx)
	if err != nil {
		return nil, err
	}
	res.BaselineHeapMiB, res.BaselineRSSMiB, res.BaselineRSSReleasedMiB = mib(heap0), mib(rss0), mib(released0)

	objs := names("mem", cfg.memoryObjects)
	spec := func(i int) soSpec { return srv.redisSpec(objs[i], 0) }
	var growStart time.Time // after the first batch
	var last time.Duration  // the last batch's time
	for count := 0; count < len(objs); {
		timeout := scaleReadyTimeout
		if count > 0 {
			left := cfg.memoryBudget - time.Since(growStart)
			if left < last {
				res.Stopped = fmt.Sprintf("another batch (the last took %s) would not fit in the %s left of the %s budget",
					last.Round(time.Second), max(left, 0).Round(time.Second), cfg.memoryBudget)
				break
			}
			timeout = left
		}
		began := time.Now()
		next := min(count+cfg.memoryBatch, len(objs))
		step, err := e.memoryStep(ctx, ns, objs[:next], count, timeout, spec)
		if err != nil {
			return res, err
		}
		prevHeap := res.BaselineHeapMiB
		if len(res.Steps) > 0 {
			prevHeap = res.Steps[len(res.Steps)-1].HeapInuseMiB
		}
		step.HeapPerObjectKiB = (step.HeapInuseMiB - prevHeap) * 1024 / float64(next-count)
		res.Steps = append(res.Steps, step)
		if !step.AllReady {
			res.Stopped = fmt.Sprintf("the batch to %s was not all Ready within the %s left", thousands(int64(next)), timeout.Round(time.Second))
			break
		}
		last, count = time.Since(began), next
		if growStart.IsZero() {
			growStart = time.Now()
		}
	}
	return res, nil
}

// settledMemory is memoryReleased once the heap has stopped shrinking
// (within 1 MiB over half a second, for at most 10 s): what a gateway
// stopped just before still held is let go in the background.
func settledMemory(ctx context.Context) (heap, rss, released uint64, err error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		heap, rss, released, err = memoryReleased()
		if err != nil || time.Now().After(deadline) {
			return heap, rss, released, err
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return 0, 0, 0, err
		}
		again, _, _, err := memoryReleased()
		if err != nil {
			return 0, 0, 0, err
		}
		if again+1<<20 >= heap {
			return memoryReleased()
		}
	}
}

// memoryReleased returns HeapInuse after a garbage collection, VmRSS, and
// VmRSS once the freed memory has been returned to the OS.
func memoryReleased() (heap, rss, released uint64, err error) {
	heap, rss, err = memoryInUse()
	if err != nil {
		return 0, 0, 0, err
	}
	debug.FreeOSMemory()
	released, err = rssBytes()
	return heap, rss, released, err
}

// memoryStep creates the objects of objs from index from on, waits for
// them (at most timeout: running out is reported in the step, not an
// error) and reads the memory.
func (e *env) memoryStep(ctx context.Context, ns string, objs []string, from int, timeout time.Duration, spec func(i int) soSpec) (*MemoryStep, error) {
	step := &MemoryStep{Objects: len(objs)}
	add := objs[from:]
	progress("memory: creating %d Deployments and ScaledObjects (%d in all)", len(add), len(objs))
	defer func(began time.Time) {
		progress("memory: batch to %d took %s", len(objs), time.Since(began).Round(100*time.Millisecond))
	}(time.Now())
	if err := e.createDeployments(ctx, ns, add); err != nil {
		return nil, err
	}
	ready, err := e.watchReadiness(ctx, ns, len(objs))
	if err != nil {
		return nil, err
	}
	req0 := e.apiserverRequestsOrNil(ctx)
	start := time.Now()
	err = e.createScaledObjects(ctx, ns, add, func(i int) soSpec { return spec(from + i) })
	step.CreatedS = time.Since(start).Seconds()
	if err != nil {
		ready.stop()
		return nil, err
	}
	t := time.NewTimer(timeout - time.Since(start))
	defer t.Stop()
	select {
	case <-ready.done:
		step.AllReady = true
	case <-t.C:
	case <-ctx.Done():
		ready.stop()
		return nil, ctx.Err()
	}
	step.Ready, step.HPAs = ready.counts()
	step.APIRequests = topRates(req0, e.apiserverRequestsOrNil(ctx), time.Since(start).Seconds(), topRequests)
	if step.AllReady {
		ready.mu.Lock()
		step.ReadyS = ready.doneAt.Sub(start).Seconds()
		ready.mu.Unlock()
		progress("memory: %d ScaledObjects Ready with their HPAs %.1f s after the step's first create", len(objs), step.ReadyS)
	} else {
		progress("memory: after %s, %d of %d ScaledObjects Ready and %d HPAs; measuring now", timeout, step.Ready, len(objs), step.HPAs)
	}
	ready.stop()
	heap, rss, released, err := memoryReleased()
	if err != nil {
		return nil, err
	}
	step.HeapInuseMiB, step.RSSMiB, step.RSSReleasedMiB = mib(heap), mib(rss), mib(released)
	return step, nil
}

// extrapolate returns the step a straight line through the first and the
// last step predicts at n ScaledObjects, and false when there are not two
// steps to draw it through.
func (m *MemoryResult) extrapolate(n int) (MemoryStep, bool) {
	if len(m.Steps) < 2 {
		return MemoryStep{}, false
	}
	first, last := m.Steps[0], m.Steps[len(m.Steps)-1]
	at := func(a, b float64) float64 {
		return b + (b-a)*float64(n-last.Objects)/float64(last.Objects-first.Objects)
	}
	return MemoryStep{
		Objects:        n,
		HeapInuseMiB:   at(first.HeapInuseMiB, last.HeapInuseMiB),
		RSSMiB:         at(first.RSSMiB, last.RSSMiB),
		RSSReleasedMiB: at(first.RSSReleasedMiB, last.RSSReleasedMiB),
	}, true
}
