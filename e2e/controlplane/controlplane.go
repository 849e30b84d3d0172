package controlplane

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ControllerManagerFlags are kube-controller-manager's settings for tests:
// the HPA syncs every second and scales down after a short stabilization
// window, so HPA behaviour is observable within a test's timeout.
var ControllerManagerFlags = []string{
	"--controllers=*,-node-ipam-controller,-node-lifecycle-controller",
	"--horizontal-pod-autoscaler-sync-period=1s",
	"--horizontal-pod-autoscaler-downscale-stabilization=5s",
	"--horizontal-pod-autoscaler-initial-readiness-delay=1s",
	"--concurrent-horizontal-pod-autoscaler-syncs=10",
	"--leader-elect=false",
	"--use-service-account-credentials=false",
	// The default client rate (20 QPS) lets a run that creates hundreds of
	// Deployments fall minutes behind.
	"--kube-api-qps=200",
	"--kube-api-burst=400",
}

// Options configure Start. The zero value is usable.
type Options struct {
	// CacheDir holds the built binaries; default DefaultCacheDir().
	CacheDir string
	// RunsRoot holds run directories; default RunsRoot().
	RunsRoot string
	// WithoutControllerManager starts only etcd and kube-apiserver.
	WithoutControllerManager bool
	// Logf reports progress; nil for silence.
	Logf func(format string, args ...any)
}

// ControlPlane is a running control plane. Stop it when done.
type ControlPlane struct {
	// Dir is the run directory: certificates, data, logs, kubeconfig.
	Dir string
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// Binaries are the executables in use; Binaries.Kubectl works with
	// Kubeconfig.
	Binaries Binaries
	// Server is the apiserver's URL (https://127.0.0.1:<port>).
	Server string

	pki   *pki
	procs []*process
}

// Start builds the binaries if needed, removes leftovers of interrupted
// runs, and starts etcd, kube-apiserver and kube-controller-manager on free
// loopback ports. It returns when the apiserver is ready and the controller
// manager is healthy. On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *ControlPlane, err error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.CacheDir == "" {
		if opts.CacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	if opts.RunsRoot == "" {
		opts.RunsRoot = RunsRoot()
	}
	if removed, err := CleanLeftovers(opts.RunsRoot); err != nil {
		opts.Logf("controlplane: cleaning leftovers: %v", err)
	} else if len(removed) > 0 {
		opts.Logf("controlplane: removed %d leftover run(s) of interrupted runs", len(removed))
	}
	bins, err := EnsureBinaries(ctx, opts.CacheDir, opts.Logf)
	if err != nil {
		return nil, err
	}
	dir, err := newRunDir(opts.RunsRoot)
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{Dir: dir, Binaries: bins}
	defer func() {
		if err != nil {
			cp.Stop()
		}
	}()
	if cp.pki, err = newPKI(dir); err != nil {
		return nil, err
	}
	etcdURL, err := cp.startEtcd(ctx)
	if err != nil {
		return nil, err
	}
	if err := cp.startAPIServer(ctx, etcdURL); err != nil {
		return nil, err
	}
	if err := cp.writeKubeconfig(); err != nil {
		return nil, err
	}
	if !opts.WithoutControllerManager {
		if err := cp.startControllerManager(ctx); err != nil {
			return nil, err
		}
	}
	opts.Logf("controlplane: ready at %s (kubeconfig %s)", cp.Server, cp.Kubeconfig)
	return cp, nil
}

// Stop ends every process and removes the run directory. It is safe to
// call more than once.
func (cp *ControlPlane) Stop() {
	for i := len(cp.procs) - 1; i >= 0; i-- {
		cp.procs[i].stop(10 * time.Second)
	}
	cp.procs = nil
	if cp.Dir != "" {
		_ = os.RemoveAll(cp.Dir)
	}
}

// Logs writes the last lines of every process's log to w, for a failing test.
func (cp *ControlPlane) Logs(w io.Writer, lines int) {
	for _, p := range cp.procs {
		fmt.Fprintf(w, "===== %s (%s) =====\n%s\n", p.name, p.logPath, p.tail(lines))
	}
}

// Err returns an error if a process of the control plane has exited.
func (cp *ControlPlane) Err() error {
	for _, p := range cp.procs {
		if p.exited() {
			return p.failure()
		}
	}
	return nil
}

// RESTConfig returns an admin client configuration with generous client-side
// rate limits.
func (cp *ControlPlane) RESTConfig() *rest.Config {
	return &rest.Config{
		Host:            cp.Server,
		BearerToken:     cp.pki.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: cp.pki.serverCA},
		QPS:             200,
		Burst:           400,
	}
}

// Pids returns the process ids of the running children.
func (cp *ControlPlane) Pids() []int {
	var out []int
	for _, p := range cp.procs {
		out = append(out, p.cmd.Process.Pid)
	}
	return out
}

const startAttempts = 3

// startWithPorts starts a process on fresh free ports, retrying when another
// process took a port between choosing and binding it.
func (cp *ControlPlane) startWithPorts(ctx context.Context, name string, nports int, start func(ports []int) (*process, error), ready func(ports []int, p *process) error) ([]int, error) {
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		ports, err := freePorts(nports)
		if err != nil {
			return nil, fmt.Errorf("controlplane: %s: no free loopback port: %w", name, err)
		}
		p, err := start(ports)
		if err != nil {
			return nil, err
		}
		if err := ready(ports, p); err != nil {
			if p.bindFailed() {
				lastErr = fmt.Errorf("controlplane: %s: port %v taken: %w", name, ports, err)
				continue
			}
			p.stop(5 * time.Second)
			return nil, err
		}
		cp.procs = append(cp.procs, p)
		return ports, nil
	}
	return nil, lastErr
}

func (cp *ControlPlane) startEtcd(ctx context.Context) (string, error) {
	var url string
	_, err := cp.startWithPorts(ctx, "etcd", 2, func(ports []int) (*process, error) {
		client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
		url = client
		return startProcess(cp.Dir, "etcd", cp.Binaries.Etcd,
			"--data-dir", filepath.Join(cp.Dir, "etcd-data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", "default="+peer,
			"--listen-metrics-urls", "",
			"--unsafe-no-fsync", "--log-level", "warn",
			"--quota-backend-bytes", strconv.Itoa(4<<30))
	}, func(ports []int, p *process) error {
		return waitHTTP(ctx, p, url+"/health", nil, 60*time.Second)
	})
	return url, err
}

func (cp *ControlPlane) startAPIServer(ctx context.Context, etcdURL string) error {
	k := cp.pki
	ports, err := cp.startWithPorts(ctx, "kube-apiserver", 1, func(ports []int) (*process, error) {
		cp.Server = fmt.Sprintf("https://127.0.0.1:%d", ports[0])
		return startProcess(cp.Dir, "kube-apiserver", cp.Binaries.KubeAPIServer,
			"--etcd-servers", etcdURL,
			"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
			// A loopback advertise address is refused by the endpoint
			// reconciler; nothing here needs the kubernetes Service endpoints.
			"--endpoint-reconciler-type", "none",
			"--secure-port", strconv.Itoa(ports[0]),
			"--tls-cert-file", k.serverCert, "--tls-private-key-file", k.serverKey,
			"--token-auth-file", k.tokenFile,
			"--authorization-mode", "RBAC",
			"--client-ca-file", k.clientCA,
			"--service-account-key-file", k.saPub,
			"--service-account-signing-key-file", k.saKey,
			"--service-account-issuer", "https://kubernetes.default.svc",
			"--service-cluster-ip-range", "10.0.0.0/24",
			"--requestheader-client-ca-file", k.frontProxyCA,
			"--requestheader-allowed-names", "front-proxy-client",
			"--requestheader-username-headers", "X-Remote-User",
			"--requestheader-group-headers", "X-Remote-Group",
			"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
			"--proxy-client-cert-file", k.proxyClientCrt,
			"--proxy-client-key-file", k.proxyClientKey,
			"--enable-priority-and-fairness=false",
			// As production clusters: setting blockOwnerDeletion on an
			// owner reference needs update on the owner's finalizers, which
			// the install test's least-privilege role must grant.
			"--enable-admission-plugins", "OwnerReferencesPermissionEnforcement",
			"--profiling=false",
			"--v=1")
	}, func(ports []int, p *process) error {
		return waitHTTP(ctx, p, cp.Server+"/readyz", k.serverCA, 120*time.Second, "Authorization", "Bearer "+k.adminToken)
	})
	_ = ports
	return err
}

func (cp *ControlPlane) startControllerManager(ctx context.Context) error {
	k := cp.pki
	_, err := cp.startWithPorts(ctx, "kube-controller-manager", 1, func(ports []int) (*process, error) {
		args := []string{
			"--kubeconfig", cp.Kubeconfig,
			"--authentication-kubeconfig", cp.Kubeconfig,
			"--authorization-kubeconfig", cp.Kubeconfig,
			"--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(ports[0]),
			"--cert-dir", filepath.Join(cp.Dir, "kcm-certs"),
			"--service-account-private-key-file", k.saKey,
			"--root-ca-file", k.path("server-ca.crt"),
			"--v=1",
		}
		return startProcess(cp.Dir, "kube-controller-manager", cp.Binaries.KubeControllerManager, append(args, ControllerManagerFlags...)...)
	}, func(ports []int, p *process) error {
		return waitHTTP(ctx, p, fmt.Sprintf("https://127.0.0.1:%d/healthz", ports[0]), nil, 120*time.Second)
	})
	return err
}

func (cp *ControlPlane) writeKubeconfig() error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["pushscale-e2e"] = &clientcmdapi.Cluster{Server: cp.Server, CertificateAuthorityData: cp.pki.serverCA}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: cp.pki.adminToken}
	cfg.Contexts["pushscale-e2e"] = &clientcmdapi.Context{Cluster: "pushscale-e2e", AuthInfo: "admin", Namespace: "default"}
	cfg.CurrentContext = "pushscale-e2e"
	cp.Kubeconfig = filepath.Join(cp.Dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, cp.Kubeconfig); err != nil {
		return fmt.Errorf("controlplane: write kubeconfig: %w", err)
	}
	return nil
}

// waitHTTP polls url until it answers 200, the process exits, or the
// timeout passes. caPEM nil means the certificate is not verified (the
// controller manager's self-signed one). headers are name, value pairs.
func waitHTTP(ctx context.Context, p *process, url string, caPEM []byte, timeout time.Duration, headers ...string) error {
	tlsCfg := &tls.Config{InsecureSkipVerify: caPEM == nil} //nolint:gosec // loopback health probe
	if caPEM != nil {
		pool, err := certPool(caPEM)
		if err != nil {
			return err
		}
		tlsCfg.RootCAs = pool
	}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tlsCfg}}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
		} else {
			last = err.Error()
		}
		if p.exited() {
			return p.failure()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("controlplane: %s not ready after %s (last answer: %s); last lines of %s:\n%s", p.name, timeout, last, p.logPath, p.tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("controlplane: waiting for %s: %w", p.name, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// freePorts returns n distinct free loopback ports. They are free when
// returned; another process may still take one before it is bound, which
// startWithPorts handles by retrying.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

var errNoCerts = errors.New("no certificates in PEM data")
