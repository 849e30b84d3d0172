package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/pushscale/pushscale/certs"
)

// servingCerts are the certificates the gateway's TLS servers present,
// each a Holder read on every handshake, and what keeps them current: the
// certificate manager (--manage-certificates) or the watchers of the
// certificate files (the cert-manager path). The metrics API always has
// one (self-signed when neither); a nil admission or webhook Holder means
// that server has none (the webhook listener then serves plain HTTP).
type servingCerts struct {
	metricsAPI, admission, webhook *certs.Holder
	// managed is the Holder the manager feeds, nil with files.
	managed *certs.Holder
	runners []func(context.Context) error
}

func newServingCerts(opts Options, cfg *rest.Config, kube kubernetes.Interface, log *slog.Logger, reg prometheus.Registerer) (*servingCerts, error) {
	metrics := certs.NewMetrics(reg)
	sc := &servingCerts{}
	if opts.ManageCertificates {
		h := certs.NewHolder("pushscale-serving-certificate")
		var dyn dynamic.Interface
		if opts.APIServiceName != "" {
			var err error
			if dyn, err = dynamic.NewForConfig(cfg); err != nil {
				return nil, fmt.Errorf("gateway: %w", err)
			}
		}
		mgr, err := certs.New(certs.Options{
			Kube: kube, Dynamic: dyn,
			Namespace: opts.ClusterObjectNamespace, SecretName: opts.CertificateSecret,
			Lifetime:       opts.CertificateLifetime,
			DNSNames:       append(certs.DefaultDNSNames(opts.ClusterObjectNamespace), opts.CertificateDNSNames...),
			APIServiceName: opts.APIServiceName, WebhookConfigurationName: opts.AdmissionWebhookConfiguration,
			Holder: h, Logger: log.With("component", "certificates"), Metrics: metrics,
		})
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		sc.managed, sc.metricsAPI = h, h
		if opts.AdmissionAddr != "" {
			sc.admission = h
		}
		if opts.WebhookTLS {
			sc.webhook = h
		}
		sc.runners = append(sc.runners, mgr.Start)
	}
	fromFiles := func(server, certFile, keyFile string) (*certs.Holder, error) {
		h := certs.NewHolder(server)
		src, err := certs.NewFileSource(server, certFile, keyFile, h)
		if err != nil {
			return nil, fmt.Errorf("gateway: %w", err)
		}
		sc.runners = append(sc.runners, src.Start)
		return h, nil
	}
	var err error
	// The webhook listener's files win over the managed certificate: a
	// public certificate for clients outside the cluster.
	if opts.WebhookTLSCertFile != "" {
		if sc.webhook, err = fromFiles("webhook", opts.WebhookTLSCertFile, opts.WebhookTLSKeyFile); err != nil {
			return nil, err
		}
	}
	if !opts.ManageCertificates {
		if opts.MetricsAPICertFile != "" {
			if sc.metricsAPI, err = fromFiles("metrics-api", opts.MetricsAPICertFile, opts.MetricsAPIKeyFile); err != nil {
				return nil, err
			}
		}
		if opts.AdmissionAddr != "" {
			if sc.admission, err = fromFiles("admission", opts.AdmissionTLSCertFile, opts.AdmissionTLSKeyFile); err != nil {
				return nil, err
			}
		}
		if sc.metricsAPI == nil {
			if sc.metricsAPI, err = selfSigned(opts); err != nil {
				return nil, err
			}
		}
	}
	for server, h := range map[string]*certs.Holder{"metrics-api": sc.metricsAPI, "admission": sc.admission, "webhook": sc.webhook} {
		if h != nil {
			metrics.Watch(server, h)
		}
	}
	return sc, nil
}

// selfSigned is the metrics API's certificate when nothing manages it and
// no file is given, made here rather than by the API server library so
// that its expiry is exported like the others': a year, for localhost,
// 127.0.0.1, the bind address and the Service's names. Its clients skip
// verification (an APIService with insecureSkipTLSVerify).
func selfSigned(opts Options) (*certs.Holder, error) {
	ips := []net.IP{net.IPv4(127, 0, 0, 1)}
	if host, _, err := net.SplitHostPort(opts.MetricsAPIAddr); err == nil {
		if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && !ip.Equal(ips[0]) {
			ips = append(ips, ip)
		}
	}
	names := append([]string{"localhost"}, certs.DefaultDNSNames(opts.ClusterObjectNamespace)[:2]...)
	certPEM, keyPEM, err := certs.SelfSigned(time.Now(), DefaultCertificateLifetime, names, ips)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	h := certs.NewHolder("metrics-api-self-signed")
	if err := h.Set(certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	return h, nil
}

// waitReady blocks until the managed certificate exists (at once with
// files) and reports whether it does; false once ctx is done.
func (sc *servingCerts) waitReady(ctx context.Context) bool {
	if sc.managed == nil {
		return true
	}
	select {
	case <-sc.managed.Ready():
		return true
	case <-ctx.Done():
		return false
	}
}

// ready reports whether the managed certificate exists (always with
// files).
func (sc *servingCerts) ready() bool {
	if sc.managed == nil {
		return true
	}
	select {
	case <-sc.managed.Ready():
		return true
	default:
		return false
	}
}
