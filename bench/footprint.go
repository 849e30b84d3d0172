package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pushscale/pushscale/gateway"
)

// MemoryResult is measurement 6: the gateway's memory with many
// ScaledObjects, measured on the gateway binary in its own process.
type MemoryResult struct {
	Method string `json:"method"`
	// Goal is the count the part grows to if its time allows.
	Goal int `json:"goal"`
	// The gateway with no ScaledObject, then after each batch.
	BaselineHeapMiB float64       `json:"baseline_heap_inuse_mib"`
	BaselineRSSMiB  float64       `json:"baseline_rss_mib"`
	Steps           []*MemoryStep `json:"steps"`
	// Stopped says why the growth ended short of Goal ("" if it did not).
	Stopped string `json:"stopped,omitempty"`
	// Restarts are the gateway started afresh on the last step's objects,
	// without and with GOMEMLIMIT.
	Restarts []*MemoryRestart `json:"restarts,omitempty"`
	// HeapProfile is where the heap profile of the last step was written.
	HeapProfile string `json:"heap_profile,omitempty"`
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

	// HeapInuseMiB is go_memstats_heap_inuse_bytes after a collection.
	HeapInuseMiB float64 `json:"heap_inuse_mib"`
	// HeapPerObjectKiB is the heap this batch added, per ScaledObject it
	// added.
	HeapPerObjectKiB float64 `json:"heap_per_object_added_kib"`
	// RSSMiB is VmRSS after the collection, PeakRSSMiB VmHWM (the most
	// the process has held so far).
	RSSMiB     float64 `json:"rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// RSSAnonMiB is RssAnon: VmRSS less the binary's and other files'
	// pages.
	RSSAnonMiB float64 `json:"rss_anon_mib"`
	Goroutines int     `json:"goroutines"`
	// APIRequests are the most frequent apiserver requests (everyone's)
	// from the batch's first create until it was measured.
	APIRequests []apiCount `json:"apiserver_requests"`
}

// MemoryRestart is the gateway started afresh on existing ScaledObjects.
type MemoryRestart struct {
	// Environment is what the process had beyond PATH ("" for nothing).
	Environment string `json:"environment"`
	Objects     int    `json:"objects"`
	// ReadyS is from the start to /readyz answering 200 (informers
	// synced, every trigger with its first value).
	ReadyS       float64 `json:"ready_s"`
	HeapInuseMiB float64 `json:"heap_inuse_mib"`
	RSSMiB       float64 `json:"rss_mib"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	RSSAnonMiB   float64 `json:"rss_anon_mib"`
	Goroutines   int     `json:"goroutines"`
}

const memoryNamespace = "bench-memory"

// measureMemory grows one namespace to cfg.memoryObjects ScaledObjects in
// batches of cfg.memoryBatch, reading the gateway process's memory after
// each, and stops early at the largest count that was all Ready within
// cfg.memoryBudget (counted after the first batch). Then it starts the
// gateway afresh on those objects without and with cfg.memoryLimit as
// GOMEMLIMIT. The objects stay (it is the last measurement; the control
// plane goes with them), the gateway process is stopped.
func measureMemory(ctx context.Context, e *env, cfg config) (*MemoryResult, error) {
	ns := memoryNamespace
	res := &MemoryResult{Goal: cfg.memoryObjects, Method: memoryMethod(cfg)}
	change := func(o *gateway.Options) {
		o.WatchNamespace = ns
		o.KubeAPIQPS, o.KubeAPIBurst = cfg.memoryQPS, int(2*cfg.memoryQPS)
	}
	g, err := e.useGatewayProcess(ctx, change)
	if err != nil {
		return nil, err
	}
	defer e.stopGatewayProcess()
	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	srv, err := e.startRedis(ctx, ns, "redis-memory", notifyAll)
	if err != nil {
		return nil, err
	}
	defer srv.close()
	m0, _, err := e.settledMemory(ctx, g)
	if err != nil {
		return nil, err
	}
	res.BaselineHeapMiB, res.BaselineRSSMiB = mib(m0.heap), mib(m0.rss)

	objs := names("mem", cfg.memoryObjects)
	spec := func(i int) soSpec { return srv.redisSpec(objs[i], 0) }
	var growStart time.Time // after the first batch
	var last time.Duration  // the last batch's time
	var profile []byte      // the last step's heap profile
	defer func() {
		if path, err := writeHeapProfile(cfg, profile); err != nil {
			progress("memory: %v", err)
		} else if path != "" {
			res.HeapProfile = path
			progress("memory: heap profile of the last step in %s", path)
		}
	}()
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
		step, prof, err := e.memoryStep(ctx, g, ns, objs[:next], count, timeout, spec)
		if err != nil {
			return res, err
		}
		profile = prof
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
	if len(res.Steps) == 0 || !res.Steps[len(res.Steps)-1].AllReady {
		return res, nil
	}
	n := res.Steps[len(res.Steps)-1].Objects
	environs := [][]string{nil}
	if cfg.memoryLimit != "" {
		environs = append(environs, []string{"GOMEMLIMIT=" + cfg.memoryLimit})
	}
	for _, environ := range environs {
		r, err := e.memoryRestart(ctx, change, n, environ)
		if err != nil {
			return res, err
		}
		res.Restarts = append(res.Restarts, r)
	}
	return res, nil
}

func memoryMethod(cfg config) string {
	limit := "; then only without"
	if cfg.memoryLimit != "" {
		limit = "; then without and with GOMEMLIMIT=" + cfg.memoryLimit
	}
	return fmt.Sprintf(
		"The gateway binary (go build ./cmd/pushscale, as the image) in its own process, watching %s only (push, "+
			"--kube-api-qps %g --kube-api-burst %d, --profiling), no GOMEMLIMIT; one redis-server with "+
			"notify-keyspace-events KA. Up to %s ScaledObjects in batches of %s: each batch creates its Deployments at "+
			"0, then its ScaledObjects (KEDA's redis list shape: address, listName: its own empty list, listLength 1, "+
			"password through one TriggerAuthentication; never active), %d creates in flight through a client at QPS "+
			"1000, and waits until a watch has delivered Ready=True for every ScaledObject so far and every HPA. Then, "+
			"with the bench's watches stopped: the process's heap profile fetched from /debug/pprof/heap?gc=1 (which "+
			"collects first), go_memstats_heap_inuse_bytes and go_goroutines from its /metrics, VmRSS and VmHWM (peak) "+
			"(and RssAnon) from /proc/<pid>/status. The batches after the first may take %s in all: the next one starts only if the "+
			"last one's time still fits. At the last count the gateway is started afresh on the same objects and "+
			"measured the same way once /readyz answers and its heap has settled%s. The controller manager processes "+
			"the Deployments at its own pace: at 0 replicas nothing waits for it.",
		memoryNamespace, cfg.memoryQPS, int(2*cfg.memoryQPS), thousands(int64(cfg.memoryObjects)), thousands(int64(cfg.memoryBatch)),
		createWorkers, cfg.memoryBudget, limit)
}

// memoryRestart starts the gateway process afresh with environ on the n
// ScaledObjects that exist and measures it once ready and settled.
func (e *env) memoryRestart(ctx context.Context, change func(*gateway.Options), n int, environ []string) (*MemoryRestart, error) {
	r := &MemoryRestart{Environment: strings.Join(environ, " "), Objects: n}
	progress("memory: restarting the gateway on %d ScaledObjects (%q)", n, r.Environment)
	start := time.Now()
	g, err := e.useGatewayProcess(ctx, change, environ...)
	if err != nil {
		return nil, err
	}
	r.ReadyS = time.Since(start).Seconds()
	m, _, err := e.settledMemory(ctx, g)
	if err != nil {
		return nil, err
	}
	r.HeapInuseMiB, r.RSSMiB, r.PeakRSSMiB, r.RSSAnonMiB, r.Goroutines = mib(m.heap), mib(m.rss), mib(m.peak), mib(m.anon), m.goroutines
	return r, nil
}

// procMemory is a gateway process's memory.
type procMemory struct {
	heap, rss, peak, anon uint64
	goroutines            int
}

// processMemory fetches g's heap profile with gc=1 (a collection first),
// then reads its HeapInuse and goroutines from /metrics and its VmRSS and
// VmHWM; it returns those and the profile.
func (e *env) processMemory(ctx context.Context, g *gatewayProc) (procMemory, []byte, error) {
	var m procMemory
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.metrics+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return m, nil, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return m, nil, g.errorf("heap profile: %v", err)
	}
	profile, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return m, nil, g.errorf("heap profile: %s %v", resp.Status, err)
	}
	for name, into := range map[string]func(float64){
		"go_memstats_heap_inuse_bytes": func(v float64) { m.heap = uint64(v) },
		"go_goroutines":                func(v float64) { m.goroutines = int(v) },
	} {
		vals, err := scrapeCounter(ctx, e.http, g.metrics, name, nil, "")
		if err != nil {
			return m, nil, err
		}
		v, ok := vals[""]
		if !ok {
			return m, nil, g.errorf("/metrics has no %s", name)
		}
		into(v)
	}
	status := fmt.Sprintf("/proc/%d/status", g.pid())
	if m.rss, err = statusBytes(status, "VmRSS"); err != nil {
		return m, nil, err
	}
	if m.peak, err = statusBytes(status, "VmHWM"); err != nil {
		return m, nil, err
	}
	if m.anon, err = statusBytes(status, "RssAnon"); err != nil {
		return m, nil, err
	}
	return m, profile, nil
}

// settledMemory is processMemory once the heap has stopped shrinking
// (within 1 MiB over half a second, for at most 10 s): a process just
// started or just done with a burst of work lets go of it in the
// background.
func (e *env) settledMemory(ctx context.Context, g *gatewayProc) (procMemory, []byte, error) {
	deadline := time.Now().Add(10 * time.Second)
	m, profile, err := e.processMemory(ctx, g)
	for err == nil && time.Now().Before(deadline) {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return m, nil, err
		}
		again, againProfile, aerr := e.processMemory(ctx, g)
		if aerr != nil {
			return m, nil, aerr
		}
		settled := again.heap+1<<20 >= m.heap
		m, profile = again, againProfile
		if settled {
			break
		}
	}
	return m, profile, err
}

// memoryStep creates the objects of objs from index from on, waits for
// them (at most timeout: running out is reported in the step, not an
// error) and reads g's memory; it returns the step and g's heap profile.
func (e *env) memoryStep(ctx context.Context, g *gatewayProc, ns string, objs []string, from int, timeout time.Duration, spec func(i int) soSpec) (*MemoryStep, []byte, error) {
	step := &MemoryStep{Objects: len(objs)}
	add := objs[from:]
	progress("memory: creating %d Deployments and ScaledObjects (%d in all)", len(add), len(objs))
	defer func(began time.Time) {
		progress("memory: batch to %d took %s", len(objs), time.Since(began).Round(100*time.Millisecond))
	}(time.Now())
	if err := e.createDeployments(ctx, ns, add); err != nil {
		return nil, nil, err
	}
	ready, err := e.watchReadiness(ctx, ns, len(objs))
	if err != nil {
		return nil, nil, err
	}
	req0 := e.apiserverRequestsOrNil(ctx)
	start := time.Now()
	err = e.createScaledObjects(ctx, ns, add, func(i int) soSpec { return spec(from + i) })
	step.CreatedS = time.Since(start).Seconds()
	if err != nil {
		ready.stop()
		return nil, nil, err
	}
	t := time.NewTimer(timeout - time.Since(start))
	defer t.Stop()
	select {
	case <-ready.done:
		step.AllReady = true
	case <-t.C:
	case <-g.done:
		ready.stop()
		return nil, nil, g.errorf("exited during the batch")
	case <-ctx.Done():
		ready.stop()
		return nil, nil, ctx.Err()
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
	m, profile, err := e.processMemory(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	step.HeapInuseMiB, step.RSSMiB, step.PeakRSSMiB, step.RSSAnonMiB, step.Goroutines = mib(m.heap), mib(m.rss), mib(m.peak), mib(m.anon), m.goroutines
	return step, profile, nil
}

// writeHeapProfile writes profile (nothing if empty) to -heap-profile, or
// by default to bench/results/<UTC date>-memory-heap.pprof (a temporary
// folder in a smoke run), and returns the path.
func writeHeapProfile(cfg config, profile []byte) (string, error) {
	if len(profile) == 0 {
		return "", nil
	}
	path := cfg.heapProfile
	if path == "" {
		dir := filepath.Join(repoRoot(), "bench", "results")
		if cfg.smoke {
			dir = os.TempDir()
		}
		path = filepath.Join(dir, time.Now().UTC().Format("2006-01-02")+"-memory-heap.pprof")
	}
	if err := os.WriteFile(path, profile, 0o644); err != nil {
		return "", fmt.Errorf("heap profile: %w", err)
	}
	return path, nil
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
		Objects:      n,
		HeapInuseMiB: at(first.HeapInuseMiB, last.HeapInuseMiB),
		RSSMiB:       at(first.RSSMiB, last.RSSMiB),
	}, true
}
