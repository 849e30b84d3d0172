package gateway

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Defaults of the certificate options, for Options fields left zero.
const (
	DefaultCertificateSecret   = "pushscale-certificates"
	DefaultCertificateLifetime = 365 * 24 * time.Hour
)

// certificateDefaults fills the certificate options an embedder left zero.
func (o *Options) certificateDefaults() {
	if o.CertificateSecret == "" {
		o.CertificateSecret = DefaultCertificateSecret
	}
	if o.CertificateLifetime == 0 {
		o.CertificateLifetime = DefaultCertificateLifetime
	}
}

// validateCertificates checks the certificate options after defaults: the
// metrics API's and the admission webhook's certificate files exclude
// managed certificates (the managed CA would be injected into their
// caBundle while another certificate is served). The webhook listener's
// files do not: its clients are outside the cluster and may want a public
// certificate (an Ingress host's) while the rest is managed.
func (o Options) validateCertificates() []error {
	var errs []error
	if !o.ManageCertificates {
		if o.WebhookTLS && o.WebhookTLSCertFile == "" {
			errs = append(errs, errors.New("--webhook-tls needs --manage-certificates or --webhook-tls-cert-file and --webhook-tls-key-file"))
		}
		return errs
	}
	for _, f := range []struct{ flag, file string }{
		{"--metrics-api-cert-file", o.MetricsAPICertFile}, {"--admission-tls-cert-file", o.AdmissionTLSCertFile},
	} {
		if f.file != "" {
			errs = append(errs, fmt.Errorf("%s %q: not with --manage-certificates (set --manage-certificates=false to serve certificate files, e.g. cert-manager's)", f.flag, f.file))
		}
	}
	if o.CertificateLifetime < time.Minute {
		errs = append(errs, fmt.Errorf("--certificate-lifetime %v: must be at least 1m", o.CertificateLifetime))
	}
	if msgs := validation.IsDNS1123Subdomain(o.CertificateSecret); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--certificate-secret %q: %s", o.CertificateSecret, strings.Join(msgs, "; ")))
	}
	for _, n := range o.CertificateDNSNames {
		if msgs := validation.IsDNS1123Subdomain(strings.TrimPrefix(n, "*.")); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("--certificate-dns-names %q: %s", n, strings.Join(msgs, "; ")))
		}
	}
	for flag, name := range map[string]string{"--apiservice-name": o.APIServiceName, "--admission-webhook-configuration": o.AdmissionWebhookConfiguration} {
		if name == "" {
			continue
		}
		if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s %q: %s", flag, name, strings.Join(msgs, "; ")))
		}
	}
	return errs
}
