// Command bench measures the pushscale gateway on a real local control
// plane and prints the figures DESIGN.md sets targets for, in four parts
// (-only selects some):
//
//   - webhook: activation latency (POST → spec.replicas = 1), ingest
//     throughput, and 1,000 ScaledObjects to Ready with their HPAs;
//   - hostile: the same activation latency, and the gateway's RSS growth
//     and panics, while slow bodies, maximal CloudEvents batches and wrong
//     signatures hit the webhook port;
//   - redis-latency: LPUSH → spec.replicas = 1 by push, and by polling at
//     1 s and at 30 s (push disabled), on real redis-servers;
//   - redis-idle: what 1,000 idle ScaledObjects cost Redis (commands/s,
//     connections), with push and with polling;
//   - kafka: produce → spec.replicas = 1 by push and by polling at 1 s
//     (push disabled), what 1,000 idle Kafka triggers cost the cluster, and
//     their Ready time, on an in-process kfake cluster;
//   - nats: publish → spec.replicas = 1 on nats-jetstream triggers by push
//     and by polling at 1 s, and what idle triggers cost the server;
//   - rabbitmq: publish → spec.replicas = 1 through a shadow queue, through
//     the default exchange (polled) and with push disabled, at
//     pollingInterval 1 s, and what idle triggers cost the broker;
//   - external: an external scaler's StreamIsActive true → spec.replicas
//     = 1 on external-push triggers, and its IsActive polled at 1 s on
//     external triggers;
//   - postgresql: INSERT + NOTIFY → spec.replicas = 1 by LISTEN
//     (notifyChannel) and with push disabled, at pollingInterval 1 s;
//   - etcd: put → spec.replicas = 1 by watch and with push disabled, at
//     pollingInterval 1 s;
//   - scaledjob: LPUSH → Job created on a ScaledJob by push and by polling
//     at 1 s, and the Jobs a burst of items creates;
//   - leader: the gateway binary as two processes with leader election,
//     the leader stopped by SIGKILL and by SIGTERM: takeover time, and
//     activations pushed meanwhile that were lost;
//   - companion: webhook POST → StreamIsActive true at a client playing
//     KEDA's operator, against a second gateway in --mode=companion;
//   - memory: the heap and RSS of the gateway binary in its own process
//     with up to 10,000 ScaledObjects, started afresh there without and
//     with GOMEMLIMIT, and its heap profile.
//
// Each figure is printed beside its floor measured in the same run
// (floors.go, readyfloor.go): before the first activation part, a bare
// /scale write seen on the same Deployment watch; in the scaledjob part, a
// bare Job create; after the 1,000-Ready measurement, the gateway's own
// apiserver requests replayed by a plain client at its client budgets. A
// run is called a result only under the load rule of load.go.
//
// `make bench` runs it (with -save: a result is kept in bench/results);
// -smoke is a short version at small sizes that fails only when a
// measurement is impossible; a missed target never fails a run.
//
// It starts its own control plane (package e2e/controlplane) and runs the
// gateway in this process (gateway.Run) on free loopback ports, as the e2e
// tests do; the Redis and memory parts restart it on the same ports with
// other options (see useGateway), one at a time. The memory part and the
// ingest runs put the gateway binary in its place, in a process of its
// own on the same ports (see useGatewayProcess). redis-servers come
// from sources/redis/redistest. Everything stops at the end and on Ctrl-C.
// The report goes to stdout (and, with -json, to a file); progress and the
// gateway's logs (warn level) go to stderr.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// config holds the flags.
type config struct {
	smoke        bool
	activations  int
	conns        int
	duration     time.Duration
	warmup       time.Duration
	objects      int
	ceBatch      int
	gatewayQPS   float32
	gatewayBurst int
	jsonOut      string
	profileDir   string

	// parts are the parts to run (-only); all when empty.
	parts map[string]bool
	// Redis latency: targets of each polled series, and the slow series'
	// pollingInterval.
	pollTargets int
	slowPolling time.Duration
	// Redis idle cost.
	idleObjects int
	idleWindow  time.Duration
	// Memory: ScaledObjects to grow to, in batches of memoryBatch (the
	// memory measured after each), growth after the first batch stopping
	// when memoryBudget would run out; the gateway's client rate there.
	memoryObjects int
	memoryBatch   int
	memoryBudget  time.Duration
	memoryQPS     float32
	// memoryLimit is GOMEMLIMIT of the memory part's second restart ("":
	// none); heapProfile where its heap profile goes ("": the default).
	memoryLimit string
	heapProfile string
	// Hostile: slow-body connections, and connections of each flood.
	hostileSlow  int
	hostileConns int
	// The load rule (load.go), and -save.
	maxLoad       float64
	maxOtherCores float64
	save          bool
}

// The parts of a run, in the order they run.
const (
	partWebhook      = "webhook"
	partHostile      = "hostile"
	partRedisLatency = "redis-latency"
	partRedisIdle    = "redis-idle"
	partMemory       = "memory"
	partNATS         = "nats"
	partRabbitMQ     = "rabbitmq"
	partPostgreSQL   = "postgresql"
	partEtcd         = "etcd"
)

var allParts = []string{partWebhook, partHostile, partRedisLatency, partRedisIdle, partKafka, partNATS, partRabbitMQ, partExternal, partPostgreSQL, partEtcd, partScaledJob, partLeader, partCompanion, partMemory}

// runs reports whether part is selected.
func (c config) runs(part string) bool { return len(c.parts) == 0 || c.parts[part] }

// profilePath is where the CPU profile of throughput run name goes:
// <dir>/ingest-<letter>.pprof for "(<letter>) …"; "" without -cpuprofile.
func (c config) profilePath(run string) string {
	if c.profileDir == "" {
		return ""
	}
	letter := strings.Trim(strings.SplitN(run, " ", 2)[0], "()")
	return filepath.Join(c.profileDir, "ingest-"+letter+".pprof")
}

func parseFlags(args []string) (config, error) {
	var c config
	var qps float64
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.BoolVar(&c.smoke, "smoke", false, "a short run at small sizes (10 activations, 2 s per throughput run, 20 ScaledObjects instead of 1,000, 5 targets per polled "+
		"Redis series with the slow one at 3 s, 20 idle objects over 5 s, memory up to 100 objects) that fails if any measurement is impossible")
	fs.IntVar(&c.activations, "activations", 100, "activations measured for the webhook and the Redis push latency figures (at least 50 outside -smoke)")
	fs.IntVar(&c.conns, "conns", 64, "keep-alive connections of the load generator")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured window of each throughput run")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "load before each throughput window, not counted")
	fs.IntVar(&c.ceBatch, "ce-batch", 100, "events per CloudEvents batch request in throughput run (d)")
	fs.IntVar(&c.objects, "objects", 1000, "ScaledObjects (and streams) of the scale and memory measurement and throughput run (c)")
	fs.Float64Var(&qps, "kube-api-qps", 100, "the gateway's --kube-api-qps (its default)")
	fs.IntVar(&c.gatewayBurst, "kube-api-burst", 200, "the gateway's --kube-api-burst (its default)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&c.profileDir, "cpuprofile", "", "write a CPU profile of each throughput window into this folder (ingest-a.pprof, …): the gateway process's, from its /debug/pprof/profile, or this process's for the reference")
	only := fs.String("only", "", "comma-separated parts to run: "+strings.Join(allParts, ", ")+" (\"redis\" for both redis parts); default all")
	fs.IntVar(&c.pollTargets, "poll-targets", 60, "ScaledObjects (one activation each) of each polled Redis series (at least 50 outside -smoke)")
	fs.DurationVar(&c.slowPolling, "slow-polling", 30*time.Second, "pollingInterval of the slow polled Redis series (whole seconds)")
	fs.IntVar(&c.idleObjects, "idle-objects", 1000, "idle ScaledObjects (and lists) of the Redis idle-cost measurement")
	fs.DurationVar(&c.idleWindow, "idle-window", 30*time.Second, "window of the Redis idle-cost measurement")
	fs.IntVar(&c.memoryObjects, "memory-objects", 10_000, "ScaledObjects the memory part grows to (if its time allows, see -memory-budget)")
	fs.IntVar(&c.memoryBatch, "memory-batch", 1000, "ScaledObjects added (and waited for) between two memory readings")
	fs.DurationVar(&c.memoryBudget, "memory-budget", 7*time.Minute, "time the memory part may grow for after its first batch; it stops at the largest count all Ready in that time")
	fs.IntVar(&c.hostileSlow, "hostile-slow", 500, "slow-body connections of the hostile part")
	fs.IntVar(&c.hostileConns, "hostile-conns", 8, "connections of each flood of the hostile part (maximal CloudEvents batches, wrong signatures)")
	fs.Float64Var(&c.maxLoad, "max-load", float64(runtime.NumCPU()), "a run is a result only if the 1-minute load average before the control plane starts is at most this (default: the number of CPUs)")
	fs.Float64Var(&c.maxOtherCores, "max-other-cores", 0.25, "a run is a result only if processes other than the bench and its descendants used at most this many cores on average over the run")
	fs.BoolVar(&c.save, "save", false, "write the printed report to bench/results/<date>-<parts>.txt when the run is a result (make bench sets it)")
	fs.StringVar(&c.memoryLimit, "memory-gomemlimit", "400MiB", "GOMEMLIMIT of the memory part's gateway started afresh at its last count, beside one without (\"\": only without)")
	fs.StringVar(&c.heapProfile, "heap-profile", "", "file for the memory part's heap profile at its last count (default bench/results/<UTC date>-memory-heap.pprof; a temporary folder with -smoke)")
	var memQPS float64
	fs.Float64Var(&memQPS, "memory-kube-api-qps", 100, "the gateway's --kube-api-qps in the memory part (burst twice that)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	c.memoryQPS = float32(memQPS)
	var err error
	if c.parts, err = parseParts(*only); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.gatewayQPS = float32(qps)
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.smoke {
		for name, apply := range map[string]func(){
			"activations":    func() { c.activations = 10 },
			"duration":       func() { c.duration = 2 * time.Second },
			"warmup":         func() { c.warmup = 500 * time.Millisecond },
			"objects":        func() { c.objects = 20 },
			"poll-targets":   func() { c.pollTargets = 5 },
			"slow-polling":   func() { c.slowPolling = 3 * time.Second },
			"idle-objects":   func() { c.idleObjects = 20 },
			"idle-window":    func() { c.idleWindow = 5 * time.Second },
			"memory-objects": func() { c.memoryObjects = 100 },
			"memory-batch":   func() { c.memoryBatch = 50 },
			"memory-budget":  func() { c.memoryBudget = time.Minute },
			"hostile-slow":   func() { c.hostileSlow = 50 },
			"hostile-conns":  func() { c.hostileConns = 2 },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	return c, c.validate()
}

// parseParts reads -only: names from allParts, or "redis" for both Redis
// parts; "" selects everything (nil).
func parseParts(s string) (map[string]bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := map[string]bool{}
	for p := range strings.SplitSeq(s, ",") {
		switch p = strings.TrimSpace(p); {
		case p == "redis":
			parts[partRedisLatency], parts[partRedisIdle] = true, true
		case slices.Contains(allParts, p):
			parts[p] = true
		default:
			return nil, fmt.Errorf("-only %q: unknown part %q (want %s or redis)", s, p, strings.Join(allParts, ", "))
		}
	}
	return parts, nil
}

func (c config) validate() error {
	var errs []error
	if c.activations < 1 || !c.smoke && c.activations < 50 {
		errs = append(errs, fmt.Errorf("-activations %d: at least 50 (a p99 of fewer says little; -smoke for a quick run)", c.activations))
	}
	if c.conns < 1 {
		errs = append(errs, fmt.Errorf("-conns %d: must be positive", c.conns))
	}
	if c.duration <= 0 || c.warmup < 0 {
		errs = append(errs, fmt.Errorf("-duration %s / -warmup %s: must be positive", c.duration, c.warmup))
	}
	if c.objects < 1 {
		errs = append(errs, fmt.Errorf("-objects %d: must be positive", c.objects))
	}
	if c.ceBatch < 2 {
		errs = append(errs, fmt.Errorf("-ce-batch %d: at least 2 (run (a) is the one-event request)", c.ceBatch))
	}
	if c.gatewayQPS <= 0 || c.gatewayBurst <= 0 {
		errs = append(errs, fmt.Errorf("-kube-api-qps %g / -kube-api-burst %d: must be positive", c.gatewayQPS, c.gatewayBurst))
	}
	if c.pollTargets < 1 || !c.smoke && c.pollTargets < 50 {
		errs = append(errs, fmt.Errorf("-poll-targets %d: at least 50 (-smoke for a quick run)", c.pollTargets))
	}
	if c.slowPolling < time.Second || c.slowPolling%time.Second != 0 {
		errs = append(errs, fmt.Errorf("-slow-polling %s: whole seconds, at least 1 (pollingInterval is in seconds)", c.slowPolling))
	}
	if c.idleObjects < 1 || c.idleWindow <= 0 {
		errs = append(errs, fmt.Errorf("-idle-objects %d / -idle-window %s: must be positive", c.idleObjects, c.idleWindow))
	}
	if c.memoryObjects < 1 || c.memoryBatch < 1 || c.memoryBudget <= 0 || c.memoryQPS <= 0 {
		errs = append(errs, fmt.Errorf("-memory-objects %d / -memory-batch %d / -memory-budget %s / -memory-kube-api-qps %g: must be positive",
			c.memoryObjects, c.memoryBatch, c.memoryBudget, c.memoryQPS))
	}
	if c.maxLoad <= 0 || c.maxOtherCores < 0 {
		errs = append(errs, fmt.Errorf("-max-load %g / -max-other-cores %g: must be positive", c.maxLoad, c.maxOtherCores))
	}
	if c.hostileSlow < 0 || c.hostileConns < 0 || c.hostileSlow > 5000 || c.hostileConns > 250 {
		errs = append(errs, fmt.Errorf("-hostile-slow %d / -hostile-conns %d: 0 to 5000 / 0 to 250", c.hostileSlow, c.hostileConns))
	}
	return errors.Join(errs...)
}

func main() {
	if addr := os.Getenv(referenceAddrEnv); addr != "" {
		os.Exit(serveReference(addr)) // this binary again, as the reference server
	}
	cfg, err := parseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	os.Exit(benchMain(cfg))
}

// benchMain runs the measurements, prints the report and returns the exit
// code: 1 when a measurement was impossible, never for a missed target.
func benchMain(cfg config) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()

	if !cfg.smoke {
		settleLoad(ctx, cfg.maxLoad, loadSettleMax)
	}
	start := time.Now()
	rep := newReport(cfg)
	load := startLoad(cfg)
	err := run(ctx, cfg, rep)
	rep.Load = load.stop() // run has stopped everything it started
	rep.finish(cfg, err, time.Since(start))
	var out bytes.Buffer
	rep.print(&out)
	os.Stdout.Write(out.Bytes())
	code := 0
	if cfg.save {
		saveResult(cfg, rep, out.Bytes(), err)
	}
	if cfg.jsonOut != "" {
		if werr := rep.writeJSON(cfg.jsonOut); werr != nil {
			progress("%v", werr)
			code = 1
		}
	}
	if err != nil {
		progress("%v", err)
		return 1
	}
	if len(rep.Failures) > 0 {
		return 1
	}
	return code
}

// saveResult writes the report to bench/results when the run is a
// result, complete and without failures; otherwise it says why not on
// stderr.
func saveResult(cfg config, rep *Report, report []byte, err error) {
	switch {
	case err != nil || len(rep.Failures) > 0:
		progress("-save: not saved: the run failed")
	case cfg.smoke:
		progress("-save: not saved: a smoke run is no result")
	case rep.Load == nil:
		progress("-save: not saved: the load rule was not applied")
	case !rep.Load.Result:
		progress("-save: not saved: NOT A RESULT (%s)", rep.Load.Why)
	default:
		path, serr := saveReport(filepath.Join(repoRoot(), "bench", "results"), time.Now(), rep.Parts, report)
		if serr != nil {
			progress("-save: %v", serr)
			return
		}
		progress("-save: report saved to %s", path)
	}
}

// run measures the selected parts in order, filling rep as it goes; the
// figures measured before an error stay in rep.
func run(ctx context.Context, cfg config, rep *Report) error {
	e, err := startEnv(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer e.stop()

	if cfg.runsActivation() {
		if rep.Floor, err = measureActivationFloor(ctx, e, cfg); err != nil {
			return fmt.Errorf("activation floor: %w", err)
		}
	}
	if cfg.runs(partWebhook) {
		if err := runWebhook(ctx, e, cfg, rep); err != nil {
			return err
		}
	}
	if cfg.runs(partHostile) {
		h, err := measureHostile(ctx, e, cfg)
		rep.Hostile = h
		if err != nil {
			return fmt.Errorf("hostile: %w", err)
		}
	}
	// The push measurements first, on the first gateway, then the polled
	// ones on one polling gateway, then memory on a gateway of its own:
	// two restarts in all.
	for _, m := range []struct {
		part, what string
		measure    func() error
	}{
		{partRedisLatency, "redis latency, push", func() error {
			s, err := measureRedisPush(ctx, e, cfg)
			rep.addSeries(s)
			return err
		}},
		{partRedisIdle, "redis idle cost, push", func() error {
			r, err := measureIdle(ctx, e, cfg, idlePush)
			rep.addIdle(cfg, r)
			return err
		}},
		{partRedisIdle, "redis idle cost, push through client tracking", func() error {
			r, err := measureIdle(ctx, e, cfg, idleTracking)
			rep.addIdle(cfg, r)
			return err
		}},
		{partRedisLatency, "redis latency, polling", func() error {
			s, err := measureRedisPolling(ctx, e, cfg)
			rep.addSeries(s)
			return err
		}},
		{partRedisIdle, "redis idle cost, polling", func() error {
			r, err := measureIdle(ctx, e, cfg, idlePoll)
			rep.addIdle(cfg, r)
			return err
		}},
		{partKafka, "kafka", func() error {
			k, err := measureKafka(ctx, e, cfg)
			rep.Kafka = k
			return err
		}},
		{partNATS, "nats-jetstream", func() error {
			n, err := measureNATS(ctx, e, cfg)
			rep.NATS = n
			return err
		}},
		{partRabbitMQ, "rabbitmq", func() error {
			r, err := measureRabbitMQ(ctx, e, cfg)
			rep.RabbitMQ = r
			return err
		}},
		{partExternal, "external", func() error {
			x, err := measureExternal(ctx, e, cfg)
			rep.External = x
			return err
		}},
		{partPostgreSQL, "postgresql", func() error {
			p, err := measurePostgreSQL(ctx, e, cfg)
			rep.PostgreSQL = p
			return err
		}},
		{partEtcd, "etcd", func() error {
			r, err := measureEtcd(ctx, e, cfg)
			rep.Etcd = r
			return err
		}},
		{partScaledJob, "scaledjob", func() error {
			var err error
			if rep.JobFloor, err = measureJobFloor(ctx, e, cfg); err != nil {
				return fmt.Errorf("job floor: %w", err)
			}
			s, err := measureScaledJob(ctx, e, cfg)
			rep.ScaledJob = s
			return err
		}},
		{partLeader, "leader", func() error {
			l, err := measureLeader(ctx, e, cfg)
			rep.Leader = l
			return err
		}},
		{partCompanion, "companion", func() error {
			c, err := measureCompanion(ctx, e, cfg)
			rep.Companion = c
			return err
		}},
		{partMemory, "memory", func() error {
			mem, err := measureMemory(ctx, e, cfg)
			rep.Memory = mem
			return err
		}},
	} {
		if !cfg.runs(m.part) {
			continue
		}
		if err := m.measure(); err != nil {
			return fmt.Errorf("%s: %w", m.what, err)
		}
	}
	return nil
}

// readyFloor measures the 1,000-Ready floor with the gateway stopped,
// deletes what it created (no finalizers: no gateway saw it), starts the
// gateway again with its first options, and then deletes the namespace:
// the namespace controller waits for the external metrics API, which the
// gateway serves.
func readyFloor(ctx context.Context, e *env, cfg config, n int, delta map[string]float64) (*ReadyFloor, error) {
	e.stopGateway()
	f, err := measureReadyFloor(ctx, e, cfg, n, delta)
	if err == nil {
		err = e.emptyReadyFloor(ctx)
	}
	if rerr := e.useGateway(ctx, nil); err == nil {
		err = rerr
	}
	if err == nil {
		err = e.deleteNamespace(ctx, readyFloorNamespace, 2*time.Minute)
	}
	return f, err
}

// runWebhook is the webhook part: activation latency, ingest throughput,
// and cfg.objects ScaledObjects to Ready.
func runWebhook(ctx context.Context, e *env, cfg config, rep *Report) error {
	var err error
	if rep.Latency, err = measureLatency(ctx, e, cfg); err != nil {
		return fmt.Errorf("activation latency: %w", err)
	}
	scaleObjs, err := prepareScale(ctx, e, cfg)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	ingest, err := measureIngest(ctx, e, cfg) // the reference runs first
	rep.Throughput = append(rep.Throughput, ingest...)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	kube0, err := e.scrapeKubeRequests(ctx)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	scale, urls, err := measureScale(ctx, e, cfg, scaleObjs)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	rep.Scale = scale
	kube1, err := e.scrapeKubeRequests(ctx)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	many, err := measureManyStreams(ctx, e, cfg, urls)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	rep.Throughput = append(rep.Throughput, many)
	if rep.ReadyFloor, err = readyFloor(ctx, e, cfg, len(scaleObjs), counterDelta(kube0, kube1)); err != nil {
		return fmt.Errorf("ready floor: %w", err)
	}
	if !cfg.runs(partRedisLatency) && !cfg.runs(partRedisIdle) && !cfg.runs(partKafka) && !cfg.runs(partNATS) && !cfg.runs(partRabbitMQ) && !cfg.runs(partExternal) && !cfg.runs(partPostgreSQL) && !cfg.runs(partEtcd) && !cfg.runs(partScaledJob) && !cfg.runs(partLeader) && !cfg.runs(partCompanion) && !cfg.runs(partMemory) {
		return nil
	}
	// Its HPAs would keep the controller manager (and so the apiserver)
	// busy during the parts that follow; its deletion too, so a full run
	// waits for it.
	wait := 2 * time.Minute
	if cfg.smoke {
		wait = 0
	}
	if err := e.deleteNamespace(ctx, scaleNamespace, wait); err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	return nil
}
