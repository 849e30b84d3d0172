package metricsapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
)

// Options configures a Server.
type Options struct {
	// Addr is the host:port the HTTPS server listens on, e.g. ":6443". Port 0
	// picks a free port; Server.Addr reports it.
	Addr string
	// Kubeconfig is the kubeconfig file of the kube-apiserver to which
	// authentication and authorization are delegated (TokenReviews,
	// SubjectAccessReviews, the kube-system/extension-apiserver-authentication
	// ConfigMap) and from which the library builds its clients. Empty means the
	// in-cluster config.
	Kubeconfig string
	// CertFile and KeyFile are the PEM serving certificate and key, reloaded
	// when they change. Both empty means a self-signed certificate for
	// localhost, 127.0.0.1 and the bind address, generated in memory at Start
	// and never written to disk; the APIService then needs
	// insecureSkipTLSVerify, as KEDA's default install does.
	CertFile, KeyFile string
	// Logger receives the server's own log lines; nil discards them. The
	// library logs through klog, which this package leaves alone.
	Logger *slog.Logger
}

// validate checks o after defaults are applied and names the bad field.
func (o Options) validate() error {
	if o.Addr == "" {
		return errors.New("metricsapi: addr is empty")
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return fmt.Errorf("metricsapi: addr %q: %w", o.Addr, err)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return fmt.Errorf("metricsapi: certFile %q and keyFile %q: set both or neither", o.CertFile, o.KeyFile)
	}
	return nil
}
