package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/scaler"
)

// systemNamespace holds the gateway's own objects (saved levels, the
// ExternalName Service of its metrics API).
const systemNamespace = "pushscale-system"

// env is everything a measurement needs: the control plane, clients, and
// the gateway running in this process. stop ends it all.
type env struct {
	cp   *controlplane.ControlPlane
	kube kubernetes.Interface
	keda *rest.RESTClient // keda.sh/v1alpha1, typed objects

	// baseOpts are the first gateway's options; gwOpts those of the one
	// running now (see restartGateway).
	baseOpts gateway.Options
	gwOpts   gateway.Options
	webhook  string // http://127.0.0.1:<port>
	// token is the bearer token of the bench's webhook streams (each
	// namespace's TriggerAuthentication "hook", see ensureHookAuth); it is
	// never printed.
	token   string
	metrics string
	http    *http.Client // short requests to the gateway (not the load generator)

	gwCancel context.CancelFunc
	gwDone   chan error // Run's result, once
	// gwProc is the gateway binary running in place of the in-process
	// gateway (see useGatewayProcess), gwBin that binary.
	gwProc *gatewayProc
	gwBin  string
}

// startEnv starts a control plane, installs the CRDs, runs the gateway in
// this process on free loopback ports and registers its metrics API, as
// the e2e tests do. On error nothing is left running.
func startEnv(ctx context.Context, cfg config) (_ *env, err error) {
	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{Logf: progress})
	if err != nil {
		return nil, err
	}
	e := &env{cp: cp, http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 4}}}
	if e.token, err = randomToken(); err != nil {
		cp.Stop()
		return nil, err
	}
	defer func() {
		if err != nil {
			e.stop()
		}
	}()
	progress("control plane ready in %s", time.Since(start).Round(100*time.Millisecond))

	// The bench's own client creates objects in bulk: high limits, so that
	// creation speed is the apiserver's, not the client's.
	rc := cp.RESTConfig()
	rc.QPS, rc.Burst = 1000, 2000
	if e.kube, err = kubernetes.NewForConfig(rc); err != nil {
		return nil, err
	}
	if e.keda, err = kedaClient(rc); err != nil {
		return nil, err
	}
	if err := applyCRDs(ctx, cp); err != nil {
		return nil, err
	}
	if err := e.startGateway(ctx, cfg); err != nil {
		return nil, err
	}
	progress("gateway ready and serving external.metrics.k8s.io (%s since start)", time.Since(start).Round(100*time.Millisecond))
	return e, nil
}

// stop stops the gateway (waiting for Run to return, bounded) and the
// control plane. It is safe to call more than once.
func (e *env) stop() {
	e.stopGateway()
	e.removeGatewayBinary()
	e.cp.Stop()
}

// stopGateway cancels the running gateway and waits (at most a minute) for
// Run to return, or stops the gateway process; it does nothing when none
// runs.
func (e *env) stopGateway() {
	e.stopGatewayProcess()
	if e.gwCancel != nil {
		e.gwCancel()
		e.gwCancel = nil
	}
	if e.gwDone != nil {
		select {
		case err := <-e.gwDone:
			if err != nil {
				progress("gateway stopped with: %v", err)
			}
		case <-time.After(time.Minute):
			progress("gateway did not stop within a minute")
		}
		e.gwDone = nil
	}
}

func kedaClient(cfg *rest.Config) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &kedav1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scaler.Scheme()).WithoutConversion()
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("keda.sh client: %w", err)
	}
	return rc, nil
}

// repoRoot is the repository's top folder (found from this file, as the
// e2e tests find it).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func applyCRDs(ctx context.Context, cp *controlplane.ControlPlane) error {
	dir := filepath.Join(repoRoot(), "manifests", "crds")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("CRDs: %w (run from a checkout of the repository)", err)
	}
	// As users install them: kubectl apply --server-side -k manifests/crds.
	return cp.InstallCRDs(ctx, dir)
}

func (e *env) startGateway(ctx context.Context, cfg config) error {
	ports, err := freeLoopbackPorts(3)
	if err != nil {
		return err
	}
	e.baseOpts = gateway.Options{
		Kubeconfig:     e.cp.Kubeconfig,
		WebhookAddr:    fmt.Sprintf("127.0.0.1:%d", ports[0]),
		MetricsAddr:    fmt.Sprintf("127.0.0.1:%d", ports[1]),
		MetricsAPIAddr: fmt.Sprintf("127.0.0.1:%d", ports[2]),
		// Off: the throughput runs push far more than any per-stream limit
		// into one stream, and every answer must be 202.
		WebhookRateLimit: 0,
		// As by default: streams need a token unless opened explicitly.
		WebhookRequireAuth:     true,
		WebhookSaveInterval:    time.Second,
		LogLevel:               "warn",
		KubeAPIQPS:             cfg.gatewayQPS,
		KubeAPIBurst:           cfg.gatewayBurst,
		RepairInterval:         30 * time.Minute,
		ClusterObjectNamespace: systemNamespace,
		Logger:                 slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	e.webhook = "http://" + e.baseOpts.WebhookAddr
	e.metrics = "http://" + e.baseOpts.MetricsAddr
	if err := e.runGateway(ctx, e.baseOpts); err != nil {
		return err
	}
	return controlplane.ServeAggregatedAPI(ctx, e.cp.RESTConfig(), controlplane.AggregatedAPI{
		Group: "external.metrics.k8s.io", Version: "v1beta1",
		Namespace: systemNamespace, Service: "pushscale-metrics-api", Port: ports[2],
	}, 2*time.Minute)
}

// useGateway makes sure the running gateway has the first one's options
// changed by change (nil: unchanged). If it has not, it stops it and starts
// one that has on the same ports (so the APIService registered by
// startGateway still reaches it), and waits until that one is ready. One
// gateway runs at a time: measurements that need other options (push
// disabled, one namespace, another client rate) run one after another.
func (e *env) useGateway(ctx context.Context, change func(*gateway.Options)) error {
	opts := e.baseOpts
	if change != nil {
		change(&opts)
	}
	if e.gwDone != nil && reflect.DeepEqual(opts, e.gwOpts) {
		return nil
	}
	e.stopGateway()
	start := time.Now()
	if err := e.runGateway(ctx, opts); err != nil {
		return err
	}
	progress("gateway restarted (WatchNamespace %q, DisablePush %q, --kube-api-qps %g) in %s",
		opts.WatchNamespace, opts.DisablePush, opts.KubeAPIQPS, time.Since(start).Round(10*time.Millisecond))
	return nil
}

// runGateway runs gateway.Run with opts in this process and waits until
// its /readyz answers 200.
func (e *env) runGateway(ctx context.Context, opts gateway.Options) error {
	e.gwOpts = opts
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx)) // stopped by stop, after everything else
	e.gwCancel, e.gwDone = cancel, make(chan error, 1)
	done := e.gwDone
	go func() { done <- gateway.Run(gctx, opts) }()
	return e.waitGatewayReady(ctx)
}

func (e *env) waitGatewayReady(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-e.gwDone:
			e.gwDone = nil // consumed: stop must not wait for it
			return fmt.Errorf("gateway exited: %w", err)
		default:
		}
		code, body, err := e.get(ctx, e.metrics+"/readyz", "")
		if err == nil && code == http.StatusOK {
			return nil
		}
		last = fmt.Sprint(code, " ", strings.TrimSpace(body), err)
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("gateway not ready after 2 minutes (last: %s)", last)
}

// get sends a GET (with a bearer token if not empty) and returns the status
// and body.
func (e *env) get(ctx context.Context, url, token string) (int, string, error) {
	return e.do(ctx, http.MethodGet, url, "", token)
}

// post sends a JSON body.
func (e *env) post(ctx context.Context, url, body, token string) (int, string, error) {
	return e.do(ctx, http.MethodPost, url, body, token)
}

func (e *env) do(ctx context.Context, method, url, body, token string) (int, string, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, "", err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b), err
}

// streamURL is the webhook API path of a stream.
func (e *env) streamURL(ns, stream string) string {
	return fmt.Sprintf("%s/v1/namespaces/%s/streams/%s", e.webhook, ns, stream)
}

// createNamespace creates ns; one left by an earlier run is an error
// (every run has its own control plane, so it cannot happen).
func (e *env) createNamespace(ctx context.Context, ns string) error {
	_, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// ensureNamespace creates ns unless it exists.
func (e *env) ensureNamespace(ctx context.Context, ns string) error {
	_, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", ns, err)
	}
	return nil
}

// deleteNamespace deletes ns and waits (bounded) until it is gone, so its
// objects stop costing anything before the next measurement. Not being gone
// in time is reported, not fatal. With timeout 0 it does not wait: the
// namespace controller works through it meanwhile.
func (e *env) deleteNamespace(ctx context.Context, ns string, timeout time.Duration) error {
	if err := e.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete namespace %s: %w", ns, err)
	}
	if timeout == 0 {
		return nil
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		_, err := e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	progress("namespace %s still terminating after %s; going on", ns, timeout)
	return nil
}

func freeLoopbackPorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("no free loopback port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// progress reports what the bench is doing on stderr; the report goes to
// stdout.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}
