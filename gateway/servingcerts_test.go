package gateway

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/rest"
)

// writePair writes a self-signed certificate and its key into dir.
func writePair(t *testing.T, dir string) (certFile, keyFile string, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	notAfter = time.Now().Add(time.Hour).Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, notAfter
}

// TestServingCertsFromFiles is the cert-manager path: each server with
// files gets its own Holder and watcher, the webhook without files none
// (plain HTTP), and the expiry gauge names the servers.
func TestServingCertsFromFiles(t *testing.T) {
	certFile, keyFile, notAfter := writePair(t, t.TempDir())
	o := validOptions()
	o.AdmissionAddr, o.AdmissionTLSCertFile, o.AdmissionTLSKeyFile = ":9443", certFile, keyFile
	o.MetricsAPICertFile, o.MetricsAPIKeyFile = certFile, keyFile
	reg := prometheus.NewRegistry()
	sc, err := newServingCerts(o, nil, nil, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	if sc.admission == nil || sc.metricsAPI == nil || sc.webhook != nil || sc.managed != nil || len(sc.runners) != 2 {
		t.Fatalf("holders: admission %v metrics API %v webhook %v managed %v, %d runners", sc.admission != nil, sc.metricsAPI != nil, sc.webhook != nil, sc.managed != nil, len(sc.runners))
	}
	want := `
# HELP pushscale_certificate_expiry_timestamp_seconds Expiry (NotAfter, Unix seconds) of the certificate each TLS server presents: metrics-api, admission, webhook.
# TYPE pushscale_certificate_expiry_timestamp_seconds gauge
pushscale_certificate_expiry_timestamp_seconds{server="admission"} ` + formatFloat(notAfter) + `
pushscale_certificate_expiry_timestamp_seconds{server="metrics-api"} ` + formatFloat(notAfter) + `
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "pushscale_certificate_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
}

func formatFloat(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) }

// TestServingCertsManaged: one managed Holder serves every TLS server.
func TestServingCertsManaged(t *testing.T) {
	o := validOptions()
	o.ManageCertificates, o.AdmissionAddr, o.WebhookTLS, o.ClusterObjectNamespace = true, ":9443", true, "pushscale-system"
	o.APIServiceName = "v1beta1.external.metrics.k8s.io"
	o.certificateDefaults()
	sc, err := newServingCerts(o, &rest.Config{Host: "https://127.0.0.1:1"}, fake.NewClientset(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if sc.managed == nil || sc.admission != sc.managed || sc.webhook != sc.managed || sc.metricsAPI != sc.managed || len(sc.runners) != 1 {
		t.Fatal("the managed Holder does not serve every TLS server")
	}
}

// TestServingCertsSelfSigned: with neither managed certificates nor files
// the metrics API serves a self-signed certificate for loopback and the
// bind address, whose expiry is exported like the others'.
func TestServingCertsSelfSigned(t *testing.T) {
	o := validOptions()
	o.MetricsAPIAddr, o.ClusterObjectNamespace = "10.1.2.3:6443", "pushscale-system"
	reg := prometheus.NewRegistry()
	sc, err := newServingCerts(o, nil, nil, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	if sc.metricsAPI == nil || sc.admission != nil || sc.webhook != nil || len(sc.runners) != 0 {
		t.Fatal("want a self-signed metrics API certificate only")
	}
	pair, err := sc.metricsAPI.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "10.1.2.3", "localhost", "pushscale-metrics-api.pushscale-system.svc"} {
		if err := pair.Leaf.VerifyHostname(host); err != nil {
			t.Errorf("self-signed certificate: %v", err)
		}
	}
	if d := time.Until(pair.Leaf.NotAfter); d < DefaultCertificateLifetime-time.Hour {
		t.Errorf("self-signed certificate expires in %v", d)
	}
	if n, err := testutil.GatherAndCount(reg, "pushscale_certificate_expiry_timestamp_seconds"); err != nil || n != 1 {
		t.Errorf("expiry series: %d, %v; want the metrics API's", n, err)
	}
}

// TestServingCertsManagedWithPublicWebhookCertificate: the webhook
// listener's files win over the managed certificate; the rest is managed.
func TestServingCertsManagedWithPublicWebhookCertificate(t *testing.T) {
	certFile, keyFile, _ := writePair(t, t.TempDir())
	o := validOptions()
	o.ManageCertificates, o.AdmissionAddr, o.WebhookTLS, o.ClusterObjectNamespace = true, ":9443", true, "pushscale-system"
	o.WebhookTLSCertFile, o.WebhookTLSKeyFile = certFile, keyFile
	o.certificateDefaults()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	sc, err := newServingCerts(o, &rest.Config{Host: "https://127.0.0.1:1"}, fake.NewClientset(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if sc.managed == nil || sc.admission != sc.managed || sc.metricsAPI != sc.managed || sc.webhook == nil || sc.webhook == sc.managed || len(sc.runners) != 2 {
		t.Fatal("want the webhook from its files and the rest managed")
	}
}
