// Command bench measures the pushscale gateway on a real local control
// plane and prints the figures DESIGN.md sets targets for: webhook
// activation latency (POST → spec.replicas = 1), webhook ingest
// throughput, and what 1,000 ScaledObjects cost (time to Ready with their
// HPAs, memory). `make bench` runs it; -smoke is a seconds-long version
// that fails when any measurement is impossible.
//
// It starts its own control plane (package e2e/controlplane) and runs the
// gateway in this process (gateway.Run) on free loopback ports, as the e2e
// tests do; everything stops at the end and on Ctrl-C. The report goes to
// stdout (and, with -json, to a file); progress and the gateway's logs
// (warn level) go to stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
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
	gatewayQPS   float32
	gatewayBurst int
	jsonOut      string
	profileDir   string
}

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
	fs.BoolVar(&c.smoke, "smoke", false, "a seconds-long run (10 activations, 2 s per throughput run, 20 ScaledObjects instead of 1,000) that fails if any measurement is impossible")
	fs.IntVar(&c.activations, "activations", 100, "activations measured for the latency figure (at least 50 outside -smoke)")
	fs.IntVar(&c.conns, "conns", 64, "keep-alive connections of the load generator")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured window of each throughput run")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "load before each throughput window, not counted")
	fs.IntVar(&c.objects, "objects", 1000, "ScaledObjects (and streams) of the scale and memory measurement and throughput run (c)")
	fs.Float64Var(&qps, "kube-api-qps", 100, "the gateway's --kube-api-qps (its default)")
	fs.IntVar(&c.gatewayBurst, "kube-api-burst", 200, "the gateway's --kube-api-burst (its default)")
	fs.StringVar(&c.jsonOut, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&c.profileDir, "cpuprofile", "", "write a CPU profile of each throughput window into this folder (ingest-a.pprof, …)")
	if err := fs.Parse(args); err != nil {
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
			"activations": func() { c.activations = 10 },
			"duration":    func() { c.duration = 2 * time.Second },
			"warmup":      func() { c.warmup = 500 * time.Millisecond },
			"objects":     func() { c.objects = 20 },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	return c, c.validate()
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
	if c.gatewayQPS <= 0 || c.gatewayBurst <= 0 {
		errs = append(errs, fmt.Errorf("-kube-api-qps %g / -kube-api-burst %d: must be positive", c.gatewayQPS, c.gatewayBurst))
	}
	return errors.Join(errs...)
}

func main() {
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

	start := time.Now()
	rep := newReport(cfg)
	err := run(ctx, cfg, rep)
	rep.finish(cfg, err, time.Since(start))
	rep.print(os.Stdout)
	code := 0
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

// run measures everything in order, filling rep as it goes; the figures
// measured before an error stay in rep.
func run(ctx context.Context, cfg config, rep *Report) error {
	e, err := startEnv(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer e.stop()

	if rep.Latency, err = measureLatency(ctx, e, cfg); err != nil {
		return fmt.Errorf("activation latency: %w", err)
	}
	scaleObjs, err := prepareScale(ctx, e, cfg)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	ref, err := measureReference(ctx, e, cfg)
	if ref != nil {
		rep.Throughput = append(rep.Throughput, ref)
	}
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	ingest, err := measureIngest(ctx, e, cfg)
	rep.Throughput = append(rep.Throughput, ingest...)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	scale, urls, err := measureScale(ctx, e, cfg, scaleObjs)
	if err != nil {
		return fmt.Errorf("scale: %w", err)
	}
	rep.Scale = scale
	many, err := measureManyStreams(ctx, e, cfg, urls)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	rep.Throughput = append(rep.Throughput, many)
	return nil
}
