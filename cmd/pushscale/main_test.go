package main

import (
	"os"
	"testing"
	"time"
)

func TestParsePrecedence(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		webhook string
		repair  time.Duration
		qps     float32
	}{
		{name: "defaults", webhook: ":8080", repair: 30 * time.Minute, qps: 100},
		{name: "environment over default", env: map[string]string{"PUSHSCALE_WEBHOOK_ADDR": ":1", "PUSHSCALE_REPAIR_INTERVAL": "1m"},
			webhook: ":1", repair: time.Minute, qps: 100},
		{name: "flag over environment", env: map[string]string{"PUSHSCALE_WEBHOOK_ADDR": ":1"},
			args: []string{"--webhook-addr", ":2", "--kube-api-qps", "7.5"}, webhook: ":2", repair: 30 * time.Minute, qps: 7.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			o, err := parse(tc.args, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			if o.WebhookAddr != tc.webhook || o.RepairInterval != tc.repair || o.KubeAPIQPS != tc.qps {
				t.Errorf("got webhook %q repair %v qps %v, want %q %v %v", o.WebhookAddr, o.RepairInterval, o.KubeAPIQPS, tc.webhook, tc.repair, tc.qps)
			}
		})
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	t.Setenv("PUSHSCALE_REPAIR_INTERVAL", "soon")
	if _, err := parse(nil, os.Stderr); err == nil {
		t.Fatal("a bad environment value was accepted")
	}
}

func TestParseWatchLabelSelector(t *testing.T) {
	cases := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{name: "default: every object"},
		{name: "environment", env: "shard=a", want: "shard=a"},
		{name: "flag over environment", env: "shard=a", args: []string{"--watch-label-selector", "team in (x,y)"}, want: "team in (x,y)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.env != "" {
				t.Setenv("PUSHSCALE_WATCH_LABEL_SELECTOR", tc.env)
			}
			o, err := parse(tc.args, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			if o.WatchLabelSelector != tc.want {
				t.Errorf("WatchLabelSelector %q, want %q", o.WatchLabelSelector, tc.want)
			}
		})
	}
}

// TestParseWebhookLimits: the webhook limits (issue 10) have defaults and
// follow the environment and the flags like every other setting.
func TestParseWebhookLimits(t *testing.T) {
	o, err := parse(nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !o.WebhookRequireAuth {
		t.Error("--webhook-require-auth is off by default")
	}
	if o.WebhookReadTimeout != 10*time.Second || o.WebhookMaxInFlight != 4096 || o.WebhookMaxBufferedBytes != 64<<20 || o.WebhookMaxHeaderBytes != 32<<10 {
		t.Errorf("defaults: %+v", o)
	}
	t.Setenv("PUSHSCALE_WEBHOOK_MAX_IN_FLIGHT", "10")
	o, err = parse([]string{"--webhook-read-timeout", "2s"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.WebhookMaxInFlight != 10 || o.WebhookReadTimeout != 2*time.Second {
		t.Errorf("environment and flag: in flight %d, read timeout %v", o.WebhookMaxInFlight, o.WebhookReadTimeout)
	}
}

// TestParseCertificates: certificates are managed by default, with the
// names the manifests use; the environment and the flags override them.
func TestParseCertificates(t *testing.T) {
	o, err := parse(nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !o.ManageCertificates || o.CertificateSecret != "pushscale-certificates" || o.CertificateLifetime != 8760*time.Hour ||
		o.APIServiceName != "v1beta1.external.metrics.k8s.io" || o.AdmissionWebhookConfiguration != "pushscale" ||
		len(o.CertificateDNSNames) != 0 || o.WebhookTLS {
		t.Errorf("defaults: manage %v secret %q lifetime %v apiservice %q webhook configuration %q names %v webhook TLS %v",
			o.ManageCertificates, o.CertificateSecret, o.CertificateLifetime, o.APIServiceName, o.AdmissionWebhookConfiguration, o.CertificateDNSNames, o.WebhookTLS)
	}
	t.Setenv("PUSHSCALE_MANAGE_CERTIFICATES", "false")
	t.Setenv("PUSHSCALE_CERTIFICATE_DNS_NAMES", "a.example,b.example")
	o, err = parse([]string{"--certificate-lifetime", "24h"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.ManageCertificates || o.CertificateLifetime != 24*time.Hour || len(o.CertificateDNSNames) != 2 || o.CertificateDNSNames[1] != "b.example" {
		t.Errorf("environment and flag: manage %v lifetime %v names %v", o.ManageCertificates, o.CertificateLifetime, o.CertificateDNSNames)
	}
	o, err = parse([]string{"--manage-certificates", "--certificate-dns-names", " localhost, ,ingress.example "}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if !o.ManageCertificates || len(o.CertificateDNSNames) != 2 || o.CertificateDNSNames[0] != "localhost" || o.CertificateDNSNames[1] != "ingress.example" {
		t.Errorf("flags: manage %v names %q", o.ManageCertificates, o.CertificateDNSNames)
	}
}

// TestParseCompanion: standalone by default; --mode and the external
// scaler's flags and environment variables reach the Options.
func TestParseCompanion(t *testing.T) {
	o, err := parse(nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.Mode != "standalone" || o.ExternalScalerAddr != "" || o.ExternalScalerMaxTriggers != 10000 || o.ExternalScalerIdleTimeout != 10*time.Minute {
		t.Errorf("defaults: mode %q addr %q max %d idle %v", o.Mode, o.ExternalScalerAddr, o.ExternalScalerMaxTriggers, o.ExternalScalerIdleTimeout)
	}
	t.Setenv("PUSHSCALE_EXTERNAL_SCALER_CLIENT_CA_FILE", "/etc/keda-ca/ca.crt")
	o, err = parse([]string{"--mode=companion", "--external-scaler-addr", ":9443"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if o.Mode != "companion" || o.ExternalScalerAddr != ":9443" || o.ExternalScalerClientCAFile != "/etc/keda-ca/ca.crt" {
		t.Errorf("flags and environment: %q %q %q", o.Mode, o.ExternalScalerAddr, o.ExternalScalerClientCAFile)
	}
}

func TestParseProfiling(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want bool
	}{
		{name: "off by default"},
		{name: "environment", env: map[string]string{"PUSHSCALE_PROFILING": "true"}, want: true},
		{name: "flag", args: []string{"--profiling"}, want: true},
		{name: "flag over environment", env: map[string]string{"PUSHSCALE_PROFILING": "true"}, args: []string{"--profiling=false"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			o, err := parse(tc.args, os.Stderr)
			if err != nil {
				t.Fatal(err)
			}
			if o.Profiling != tc.want {
				t.Errorf("Profiling %v, want %v", o.Profiling, tc.want)
			}
		})
	}
}
