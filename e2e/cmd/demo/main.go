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
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

const (
	namespace     = "demo"
	stream        = "jobs"
	redisPassword = "demo-password"
)

// redisScaledObject is KEDA's getting-started shape: a Redis list with a
// password from a TriggerAuthentication.
const redisScaledObject = `apiVersion: v1
kind: Secret
metadata: {name: redis-auth, namespace: demo}
stringData: {password: %[2]s}
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: redis-auth, namespace: demo}
spec:
  secretTargetRef:
  - {parameter: password, name: redis-auth, key: password}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: consumer, namespace: demo}
spec:
  scaleTargetRef: {name: consumer}
  maxReplicaCount: 10
  cooldownPeriod: 15
  triggers:
  - type: redis
    metadata:
      address: %[1]s
      listName: jobs
      listLength: "5"
    authenticationRef: {name: redis-auth}
`

func redisPort(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

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
	if err := cp.InstallCRDs(ctx, filepath.Join(repoRoot(), "manifests", "crds")); err != nil {
		return err
	}
	addrs := gatewayAddrs()
	opts := gateway.Options{
		Kubeconfig: cp.Kubeconfig, WebhookAddr: addrs[0], MetricsAddr: addrs[1], MetricsAPIAddr: addrs[2],
		WebhookRateLimit: 10000, WebhookRequireAuth: true, WebhookSaveInterval: time.Second, LogLevel: "warn",
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
	if err := d.createNamespace(ctx); err != nil {
		return err
	}

	// A Redis server of the demo's own, on a free loopback port, with
	// keyspace notifications on (KEDA users set notify-keyspace-events the
	// same way; --redis-configure-notifications can do it for them).
	rds, err := redistest.NewServer(ctx, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: redisPassword})
	if err != nil {
		return fmt.Errorf("start redis-server (make deps installs it): %w", err)
	}
	defer rds.Close()
	if err := d.apply(ctx, "worker", webhookScaledObject); err != nil {
		return err
	}
	say("applied Deployment demo/worker (0 replicas) and ScaledObject demo/worker on webhook stream %q (targetValue 5, cooldownPeriod 15 s)", stream)
	if err := d.apply(ctx, "consumer", fmt.Sprintf(redisScaledObject, rds.Addr(), redisPassword)); err != nil {
		return err
	}
	say("applied Deployment demo/consumer (0 replicas) and ScaledObject demo/consumer on Redis list %q at %s (listLength 5, password from a TriggerAuthentication)", "jobs", rds.Addr())
	go d.watch(ctx)

	rdb := rds.Client()
	lpush := func(n int) func(context.Context) error {
		return func(ctx context.Context) error {
			items := make([]any, n)
			for i := range items {
				items[i] = fmt.Sprintf("job-%d", i)
			}
			return rdb.LPush(ctx, "jobs", items...).Err()
		}
	}
	post := func(body string) func(context.Context) error {
		return func(ctx context.Context) error { return d.post(ctx, webhook, body) }
	}
	err = d.run(ctx, []step{
		{`webhook: POST {"value": 1} — one job waiting: pushscale wakes demo/worker from 0 at once`, post(`{"value": 1}`), "worker", 1, time.Minute},
		{`webhook: POST {"value": 20} — 20 jobs / targetValue 5: the HPA scales to 4 from pushscale's external metric`, post(`{"value": 20}`), "worker", 4, 3 * time.Minute},
		{`webhook: POST {"value": 0} — no jobs: the HPA goes to 1, pushscale to 0 after cooldownPeriod (15 s)`, post(`{"value": 0}`), "worker", 0, 3 * time.Minute},
		{"redis: LPUSH jobs (1 item) — a keyspace notification wakes demo/consumer from 0 at once, no polling", lpush(1), "consumer", 1, time.Minute},
		{"redis: LPUSH jobs (14 more) — 15 items / listLength 5: the HPA scales to 3", lpush(14), "consumer", 3, 3 * time.Minute},
		{"redis: DEL jobs — drained: the HPA goes to 1, pushscale to 0 after cooldownPeriod (15 s)", func(ctx context.Context) error { return rdb.Del(ctx, "jobs").Err() }, "consumer", 0, 3 * time.Minute},
	})
	if err != nil {
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
  redis-cli -h 127.0.0.1 -p %[5]s -a %[6]s LPUSH jobs a b c d e f
  redis-cli -h 127.0.0.1 -p %[5]s -a %[6]s DEL jobs

Replica changes keep printing below.
`, cp.Kubeconfig, cp.Binaries.Kubectl, webhook, metrics, redisPort(rds.Addr()), redisPassword)
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
