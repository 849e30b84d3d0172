// Command demo shows pushscale end to end on one machine: it starts a real
// local control plane (etcd, kube-apiserver, kube-controller-manager), the
// pushscale gateway, a sample Deployment at zero replicas with a
// ScaledObject on a webhook stream, then posts events and prints every
// replica change with its time. It stays up with copy-paste curl and
// kubectl lines until Ctrl-C. `make demo` runs it.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"k8s.io/klog/v2"

	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/e2e/kubelet"
	"github.com/pushscale/pushscale/gateway"
)

const (
	namespace = "demo"
	stream    = "jobs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatalf("demo: %v", err)
	}
}

func run(ctx context.Context) error {
	// The API server libraries log through klog; the demo's story is the
	// replica changes, so their informational lines are dropped.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Printf("[%6.2fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	say("starting the local control plane (the first run builds it: about 12 minutes on 2 cores; later runs: seconds)")
	cp, err := controlplane.Start(ctx, controlplane.Options{Logf: func(f string, a ...any) { say(f, a...) }})
	if err != nil {
		return err
	}
	defer cp.Stop()
	kubectl := func(args ...string) error { return runKubectl(ctx, cp, args...) }

	if err := kubectl("apply", "--server-side", "-f", filepath.Join(repoRoot(), "manifests", "crds")); err != nil {
		return err
	}
	if err := kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all"); err != nil {
		return err
	}
	addrs := gatewayAddrs()
	opts := gateway.Options{
		Kubeconfig: cp.Kubeconfig, WebhookAddr: addrs[0], MetricsAddr: addrs[1], MetricsAPIAddr: addrs[2],
		WebhookRateLimit: 10000, WebhookSaveInterval: time.Second, LogLevel: "warn",
		KubeAPIQPS: 100, KubeAPIBurst: 200, RepairInterval: 30 * time.Minute, ClusterObjectNamespace: "pushscale-system",
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	gctx, gcancel := context.WithCancel(ctx)
	defer gcancel()
	gwDone := make(chan error, 1)
	go func() { gwDone <- gateway.Run(gctx, opts) }()
	webhook, metrics := "http://"+addrs[0], "http://"+addrs[1]
	if err := waitReady(ctx, metrics+"/readyz", gwDone); err != nil {
		return err
	}
	_, port, _ := net.SplitHostPort(addrs[2])
	var p int
	fmt.Sscan(port, &p)
	if err := controlplane.ServeAggregatedAPI(ctx, cp.RESTConfig(), controlplane.AggregatedAPI{
		Group: "external.metrics.k8s.io", Version: "v1beta1", Namespace: "pushscale-system", Service: "pushscale-metrics-api", Port: p,
	}, 2*time.Minute); err != nil {
		return err
	}
	say("gateway ready: webhooks on %s, metrics on %s/metrics, external metrics API registered", webhook, metrics)

	d, err := newDemo(ctx, cp, say)
	if err != nil {
		return err
	}
	standIn := kubelet.New(d.kube)
	go func() { _ = standIn.Start(ctx) }()
	standIn.Manage(namespace)
	if err := d.apply(ctx); err != nil {
		return err
	}
	go d.watch(ctx)
	if err := d.script(ctx, webhook); err != nil {
		return err
	}

	fmt.Printf(`
The demo stays up until Ctrl-C. Try it yourself (in another terminal):

  export KUBECONFIG=%[1]s
  alias kubectl=%[2]s
  kubectl -n demo get scaledobject,hpa,deploy
  curl -s -XPOST -H 'Content-Type: application/json' -d '{"value": 12}' %[3]s/v1/namespaces/demo/streams/jobs
  curl -s -XPOST -H 'Content-Type: application/json' -d '{"delta": -7}' %[3]s/v1/namespaces/demo/streams/jobs
  curl -s %[3]s/v1/namespaces/demo/streams/jobs
  kubectl get --raw "/apis/external.metrics.k8s.io/v1beta1/namespaces/demo/s0-webhook-jobs?labelSelector=scaledobject.keda.sh%%2Fname%%3Dworker"
  curl -s %[4]s/metrics | grep ^pushscale_

Replica changes keep printing below.
`, cp.Kubeconfig, cp.Binaries.Kubectl, webhook, metrics)
	select {
	case <-ctx.Done():
	case err := <-gwDone:
		return fmt.Errorf("gateway stopped: %v", err)
	}
	fmt.Println("\nstopping: gateway, then the control plane (everything is removed)")
	gcancel()
	<-gwDone
	return nil
}

// gatewayAddrs prefers the gateway's default ports on loopback and falls
// back to free ones when they are taken.
func gatewayAddrs() []string {
	var out []string
	for _, port := range []string{"8080", "9090", "6443"} {
		addr := "127.0.0.1:" + port
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
		} else if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
			addr = l.Addr().String()
			l.Close()
		}
		out = append(out, addr)
	}
	return out
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}
