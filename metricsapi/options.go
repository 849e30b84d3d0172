package metricsapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
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
	// Cert, when set, is the serving certificate instead of files: the
	// server reads it on every change it is told of (AddListener), so a
	// rotated certificate is served without a restart. The gateway passes
	// its certs.Holder. Not with CertFile and KeyFile.
	Cert dynamiccertificates.CertKeyContentProvider
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
	if o.Cert != nil && o.CertFile != "" {
		return errors.New("metricsapi: cert and certFile: set one or the other")
	}
	return nil
}
