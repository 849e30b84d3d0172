package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/e2e/kubelet"
	"github.com/pushscale/pushscale/gateway/clientgo"
)

// env is the shared test environment, set up once by TestMain.
var env struct {
	cp      *controlplane.ControlPlane
	cfg     *rest.Config
	kube    kubernetes.Interface
	kubelet *kubelet.StandIn
}

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Getenv(childEnv) != "" {
		// This binary was started by TestInterruptedRunLeavesNothing to play
		// an interrupted run; it must not start the shared control plane.
		os.Exit(m.Run())
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// klog's logger is set once, before the informers below log: the
	// gateways started later only steer it (see clientgo.InstallKlog).
	clientgo.InstallKlog()

	start := time.Now()
	cp, err := controlplane.Start(ctx, controlplane.Options{Logf: func(f string, a ...any) {
		fmt.Fprintf(os.Stderr, f+"\n", a...)
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the control plane: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: control plane ready in %s\n", time.Since(start).Round(100*time.Millisecond))

	// A timeout panic or a signal skips deferred calls: stop on signals
	// here; children die with this process in every other case (see
	// controlplane), and the next run removes the run directory.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "e2e: %v: stopping the control plane\n", s)
		cp.Stop()
		os.Exit(130)
	}()

	env.cp = cp
	env.cfg = cp.RESTConfig()
	env.kube = kubernetes.NewForConfigOrDie(env.cfg)
	env.kubelet = kubelet.New(env.kube)
	kubeletDone := make(chan error, 1)
	go func() { kubeletDone <- env.kubelet.Start(ctx) }()
	if err := env.kubelet.WaitSynced(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		cp.Stop()
		return 1
	}

	if err := setUpGateway(ctx, cp); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: cannot start the gateway: %v\n", err)
		cp.Logs(os.Stderr, 40)
		cp.Stop()
		return 1
	}

	code := m.Run()
	if err := stopGateway(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: gateway: %v\n", err)
		code = 1
	}
	if code != 0 {
		fmt.Fprintln(os.Stderr, "e2e: tests failed; the end of every control plane log follows")
		cp.Logs(os.Stderr, 40)
	}
	cancel()
	<-kubeletDone
	cp.Stop()
	return code
}
