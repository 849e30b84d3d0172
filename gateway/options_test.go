package gateway

import (
	"strings"
	"testing"
	"time"
)

func validOptions() Options {
	return Options{
		WebhookAddr: ":8080", MetricsAddr: ":9090", MetricsAPIAddr: ":6443", LogLevel: "info",
		KubeAPIQPS: 100, KubeAPIBurst: 200, RepairInterval: 30 * time.Minute, WebhookSaveInterval: time.Second,
	}
}

func TestOptionsValidate(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Options)
		want string // substring of the error; "" for valid
	}{
		{"defaults are valid", func(*Options) {}, ""},
		{"bad webhook address", func(o *Options) { o.WebhookAddr = "8080" }, `--webhook-addr "8080"`},
		{"bad metrics address", func(o *Options) { o.MetricsAddr = "nowhere" }, `--metrics-addr "nowhere"`},
		{"TLS cert without key", func(o *Options) { o.WebhookTLSCertFile = "c.pem" }, "--webhook-tls-cert-file"},
		{"negative rate limit", func(o *Options) { o.WebhookRateLimit = -1 }, "--webhook-rate-limit -1"},
		{"zero qps", func(o *Options) { o.KubeAPIQPS = 0 }, "--kube-api-qps"},
		{"zero repair interval", func(o *Options) { o.RepairInterval = 0 }, "--repair-interval"},
		{"target check", func(o *Options) { o.ClusterTriggerAuthTargetCheck = "warn" }, ""},
		{"bad target check", func(o *Options) { o.ClusterTriggerAuthTargetCheck = "strict" }, `--cluster-trigger-auth-target-check "strict"`},
		{"streams per namespace beyond what a ConfigMap holds", func(o *Options) { o.WebhookMaxStreamsPerNamespace = 5000 }, "--webhook-max-streams-per-namespace 5000"},
		{"label selector", func(o *Options) { o.WatchLabelSelector = "team in (a,b),!legacy" }, ""},
		{"companion mode", func(o *Options) {
			o.Mode, o.ExternalScalerAddr, o.ExternalScalerClientCAFile = ModeCompanion, ":9443", "ca.pem"
		}, ""},
		{"bad mode", func(o *Options) { o.Mode = "sidecar" }, `--mode "sidecar"`},
		{"companion mode without the external scaler", func(o *Options) { o.Mode = ModeCompanion }, "--mode=companion needs --external-scaler-addr"},
		{"external scaler without a client CA", func(o *Options) { o.ExternalScalerAddr = ":9443" }, "--external-scaler-addr needs --external-scaler-client-ca-file"},
		{"companion mode with the admission webhook", func(o *Options) {
			o.Mode, o.ExternalScalerAddr, o.ExternalScalerClientCAFile = ModeCompanion, ":9443", "ca.pem"
			o.AdmissionAddr, o.AdmissionTLSCertFile, o.AdmissionTLSKeyFile = ":8443", "c.pem", "k.pem"
		}, "--admission-addr: not in companion mode"},
		{"bad label selector", func(o *Options) { o.WatchLabelSelector = "team in a" }, `--watch-label-selector "team in a"`},
		{"admission webhook", func(o *Options) {
			o.AdmissionAddr, o.AdmissionTLSCertFile, o.AdmissionTLSKeyFile = ":9443", "c.pem", "k.pem"
		}, ""},
		{"admission webhook without TLS", func(o *Options) { o.AdmissionAddr = ":9443" }, "--manage-certificates or --admission-tls-cert-file"},
		{"admission webhook with managed certificates", func(o *Options) { o.AdmissionAddr, o.ManageCertificates = ":9443", true }, ""},
		{"admission cert without key", func(o *Options) {
			o.AdmissionAddr, o.AdmissionTLSCertFile = ":9443", "c.pem"
		}, "--admission-tls-cert-file and --admission-tls-key-file go together"},
		{"managed certificates", func(o *Options) {
			o.ManageCertificates, o.WebhookTLS, o.CertificateDNSNames = true, true, []string{"localhost", "*.ingress.example"}
		}, ""},
		{"managed certificates and cert files", func(o *Options) {
			o.ManageCertificates, o.MetricsAPICertFile, o.MetricsAPIKeyFile = true, "c.pem", "k.pem"
		}, `--metrics-api-cert-file "c.pem": not with --manage-certificates`},
		{"managed certificates and a public webhook certificate", func(o *Options) {
			o.ManageCertificates, o.WebhookTLSCertFile, o.WebhookTLSKeyFile = true, "c.pem", "k.pem"
		}, ""},
		{"managed certificates and admission files", func(o *Options) {
			o.ManageCertificates, o.AdmissionAddr, o.AdmissionTLSCertFile, o.AdmissionTLSKeyFile = true, ":9443", "c.pem", "k.pem"
		}, `--admission-tls-cert-file "c.pem": not with --manage-certificates`},
		{"short certificate lifetime", func(o *Options) { o.ManageCertificates, o.CertificateLifetime = true, time.Second }, "--certificate-lifetime 1s"},
		{"bad certificate secret", func(o *Options) { o.ManageCertificates, o.CertificateSecret = true, "Certs!" }, `--certificate-secret "Certs!"`},
		{"bad certificate name", func(o *Options) {
			o.ManageCertificates, o.CertificateDNSNames = true, []string{"under_score.example"}
		}, `--certificate-dns-names "under_score.example"`},
		{"bad APIService name", func(o *Options) { o.ManageCertificates, o.APIServiceName = true, "v1beta1/external" }, `--apiservice-name "v1beta1/external"`},
		{"no APIService to patch", func(o *Options) {
			o.ManageCertificates, o.APIServiceName, o.AdmissionWebhookConfiguration = true, "", ""
		}, ""},
		{"webhook TLS without a certificate", func(o *Options) { o.WebhookTLS = true }, "--webhook-tls needs"},
		{"webhook TLS from files", func(o *Options) {
			o.WebhookTLS, o.WebhookTLSCertFile, o.WebhookTLSKeyFile = true, "c.pem", "k.pem"
		}, ""},
		{"bad admission address", func(o *Options) {
			o.AdmissionAddr, o.AdmissionTLSCertFile, o.AdmissionTLSKeyFile = "9443", "c.pem", "k.pem"
		}, `--admission-addr "9443"`},
		{"unknown log level", func(o *Options) { o.LogLevel = "loud" }, `--log-level "loud"`},
		{"leader election, default timings", func(o *Options) { o.LeaderElect = true }, ""},
		{"leader election, renew deadline past the lease", func(o *Options) {
			o.LeaderElect, o.LeaderElectLeaseDuration, o.LeaderElectRenewDeadline = true, 10*time.Second, 10*time.Second
		}, "--leader-elect-lease-duration 10s / --leader-elect-renew-deadline 10s"},
		{"leader election, retries too slow for the deadline", func(o *Options) {
			o.LeaderElect, o.LeaderElectRenewDeadline, o.LeaderElectRetryPeriod = true, 2*time.Second, 2*time.Second
		}, "--leader-elect-retry-period 2s"},
		{"bad timings without leader election are ignored", func(o *Options) { o.LeaderElectLeaseDuration = time.Second }, ""},
		{"advertise address", func(o *Options) { o.AdvertiseAddress = "10.1.2.3" }, ""},
		{"advertise address with a port", func(o *Options) { o.AdvertiseAddress = "10.1.2.3:8080" }, `--advertise-address "10.1.2.3:8080"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := validOptions()
			tc.mod(&o)
			o.certificateDefaults()
			o.leaderDefaults()
			err := o.validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
