package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/gateway"
)

// gw is the gateway under test: one per control plane, since only one
// APIService can serve external.metrics.k8s.io.
var gw struct {
	mu      sync.Mutex
	opts    gateway.Options
	cancel  context.CancelFunc
	done    chan error
	webhook string // http://127.0.0.1:<port>
	metrics string
}

const systemNamespace = "pushscale-system"

// gwLogs holds everything the gateway logged during the run.
var gwLogs syncBuffer

type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// repoRoot is the repository's top folder.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// setUpGateway installs the CRDs, starts the gateway on free loopback
// ports and registers its metrics API with the aggregator.
func setUpGateway(ctx context.Context, cp *controlplane.ControlPlane) error {
	if err := cp.InstallCRDs(ctx, filepath.Join(repoRoot(), "manifests", "crds")); err != nil {
		return err
	}
	ports, err := controlplane.FreePorts(3)
	if err != nil {
		return err
	}
	// Every log line, at debug level, goes to gwLogs so tests can check that
	// no secret is ever logged; PUSHSCALE_E2E_LOG=1 also prints them.
	var logOut io.Writer = &gwLogs
	if os.Getenv("PUSHSCALE_E2E_LOG") != "" {
		logOut = io.MultiWriter(&gwLogs, os.Stderr)
	}
	gw.opts = gateway.Options{
		Kubeconfig:       cp.Kubeconfig,
		WebhookAddr:      fmt.Sprintf("127.0.0.1:%d", ports[0]),
		MetricsAddr:      fmt.Sprintf("127.0.0.1:%d", ports[1]),
		MetricsAPIAddr:   fmt.Sprintf("127.0.0.1:%d", ports[2]),
		WebhookRateLimit: 50,
		// As the flag's default: streams are authenticated unless a
		// trigger opts out with allowUnauthenticated. Refusals are
		// throttled per address as in production, with room for the
		// tests that send bad requests on purpose, all from 127.0.0.1.
		WebhookRequireAuth:     true,
		WebhookRefusalBurst:    1000,
		WebhookSaveInterval:    200 * time.Millisecond,
		LogLevel:               "info",
		KubeAPIQPS:             200,
		KubeAPIBurst:           400,
		RepairInterval:         30 * time.Minute,
		ClusterObjectNamespace: systemNamespace,
		// Every test runs under a selector; TestLabelSelector uses the
		// shard it leaves out.
		WatchLabelSelector: sharedGatewaySelector,
		Logger:             slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	gw.webhook = "http://" + gw.opts.WebhookAddr
	gw.metrics = "http://" + gw.opts.MetricsAddr
	startGateway()
	if err := waitGatewayReady(ctx); err != nil {
		return err
	}
	return controlplane.ServeAggregatedAPI(ctx, cp.RESTConfig(), controlplane.AggregatedAPI{
		Group: "external.metrics.k8s.io", Version: "v1beta1",
		Namespace: systemNamespace, Service: "pushscale-e2e-metrics-api", Port: ports[2],
	}, 2*time.Minute)
}

func startGateway() {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	gw.cancel, gw.done = cancel, make(chan error, 1)
	opts := gw.opts
	done := gw.done
	go func() { done <- gateway.Run(ctx, opts) }()
}

// stopGateway stops the gateway and returns Run's result.
func stopGateway() error {
	gw.mu.Lock()
	defer gw.mu.Unlock()
	gw.cancel()
	select {
	case err := <-gw.done:
		return err
	case <-time.After(time.Minute):
		return fmt.Errorf("gateway did not stop within a minute")
	}
}

func waitGatewayReady(ctx context.Context) error {
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		select {
		case err := <-gw.done:
			return fmt.Errorf("gateway exited: %v", err)
		default:
		}
		resp, err := http.Get(gw.metrics + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("gateway not ready after 2 minutes (last: %s)", strings.TrimSpace(last))
}

// runExtraGateway runs a gateway beside the shared one with opts until t
// ends, and waits until its /readyz answers 200. name is for messages.
func runExtraGateway(t *testing.T, name string, opts gateway.Options) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Run(ctx, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		case <-time.After(time.Minute):
			t.Errorf("%s did not stop within a minute", name)
		}
	})
	eventually(t, longWait, "the "+name+" to be ready", func() (bool, error) {
		select {
		case err := <-done:
			t.Fatalf("%s exited: %v", name, err)
		default:
		}
		resp, err := http.Get("http://" + opts.MetricsAddr + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz: %s", resp.Status)
	})
}
