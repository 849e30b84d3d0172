package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pushscale/pushscale/gateway"
)

// This file runs the gateway binary as a process of its own in place of
// the in-process gateway, on the same loopback ports (so the APIService
// and every URL the bench holds still reach it): the memory and ingest
// figures are then the gateway's alone, not shared with the bench's.

// gatewayArgs are the flags of cmd/pushscale that give the binary opts, as
// gateway.Run gets them in this process: the fields the bench sets, and
// the defaults of an embedder's zero Options where the binary's differ
// (leader election and managed certificates off).
func gatewayArgs(opts gateway.Options) []string {
	args := []string{
		"--kubeconfig=" + opts.Kubeconfig,
		"--webhook-addr=" + opts.WebhookAddr,
		"--metrics-addr=" + opts.MetricsAddr,
		"--metrics-api-addr=" + opts.MetricsAPIAddr,
		"--webhook-rate-limit=" + strconv.FormatFloat(opts.WebhookRateLimit, 'g', -1, 64),
		"--webhook-require-auth=" + strconv.FormatBool(opts.WebhookRequireAuth),
		"--webhook-save-interval=" + opts.WebhookSaveInterval.String(),
		"--log-level=" + opts.LogLevel,
		"--kube-api-qps=" + strconv.FormatFloat(float64(opts.KubeAPIQPS), 'g', -1, 32),
		"--kube-api-burst=" + strconv.Itoa(opts.KubeAPIBurst),
		"--repair-interval=" + opts.RepairInterval.String(),
		"--cluster-object-namespace=" + opts.ClusterObjectNamespace,
		"--watch-namespace=" + opts.WatchNamespace,
		"--manage-certificates=false",
		"--leader-elect=false",
		"--profiling=" + strconv.FormatBool(opts.Profiling),
	}
	if len(opts.DisablePush) > 0 {
		args = append(args, "--disable-push="+strings.Join(opts.DisablePush, ","))
	}
	return args
}

// useGatewayProcess stops the running gateway (in this process or not)
// and runs the binary in its place with the first gateway's options
// changed by change (nil: unchanged) and profiling on, environ added to
// its environment (e.g. GOMEMLIMIT=400MiB); it waits until /readyz
// answers 200. The binary is built once per run. useGateway brings the
// in-process gateway back; stop ends the process.
func (e *env) useGatewayProcess(ctx context.Context, change func(*gateway.Options), environ ...string) (*gatewayProc, error) {
	opts := e.baseOpts
	if change != nil {
		change(&opts)
	}
	opts.Profiling = true
	e.stopGateway()
	if e.gwBin == "" {
		progress("building the gateway binary")
		bin, err := buildGatewayBinary(ctx)
		if err != nil {
			return nil, err
		}
		e.gwBin = bin
	}
	start := time.Now()
	g, err := startGatewayProc(ctx, e.gwBin, "gateway process", gatewayArgs(opts), environ,
		"http://"+opts.WebhookAddr, "http://"+opts.MetricsAddr)
	if g != nil {
		e.gwProc = g
	}
	if err != nil {
		return nil, err
	}
	progress("gateway started as process %d (WatchNamespace %q, --kube-api-qps %g, environment %q) in %s",
		g.cmd.Process.Pid, opts.WatchNamespace, opts.KubeAPIQPS, environ, time.Since(start).Round(10*time.Millisecond))
	return g, nil
}

// stopGatewayProcess ends the gateway process, if one runs.
func (e *env) stopGatewayProcess() {
	if e.gwProc != nil {
		e.gwProc.stop()
		e.gwProc = nil
	}
}

// removeGatewayBinary removes the binary useGatewayProcess built.
func (e *env) removeGatewayBinary() {
	if e.gwBin != "" {
		os.RemoveAll(filepath.Dir(e.gwBin))
		e.gwBin = ""
	}
}

// pid is the process's id.
func (g *gatewayProc) pid() int { return g.cmd.Process.Pid }

// errorf is an error about g with the end of its logs.
func (g *gatewayProc) errorf(format string, args ...any) error {
	return fmt.Errorf("%s: %s\n%s", g.name, fmt.Sprintf(format, args...), lastLines(g.logs.String(), 20))
}
