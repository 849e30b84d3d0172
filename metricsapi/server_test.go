package metricsapi

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	"k8s.io/metrics/pkg/apis/external_metrics/v1beta1"

	"github.com/pushscale/pushscale/certs"
)

const metricPath = "/apis/external.metrics.k8s.io/v1beta1/namespaces/ns/"

func TestServerServesThroughDelegatedAuth(t *testing.T) {
	before := len(goroutines())
	kube := newFakeKube(t)
	values := fakeValues{
		metrics: map[string]map[string]float64{"ns/so": {"s0-webhook-X": 2.5}},
		errs:    map[string]error{"ns/failing": errors.New("trigger s0: connection refused")},
	}
	r := startServer(t, Options{Kubeconfig: kube.kubeconfig}, values)

	frontProxy := client{cert: &kube.frontProxy, headers: map[string]string{
		"X-Remote-User":  hpaUser,
		"X-Remote-Group": "system:serviceaccounts",
	}}
	bearer := client{headers: map[string]string{"Authorization": "Bearer " + hpaToken}}
	anonymous := client{}
	// Front-proxy certificates are trusted once the server's informer has
	// synced the extension-apiserver-authentication ConfigMap, shortly after
	// the port is served; until then requests are anonymous.
	waitFor(t, func() bool {
		status, _, _ := frontProxy.get(t, r.srv.Addr(), "/apis/external.metrics.k8s.io/v1beta1")
		return status == http.StatusOK
	})
	soSelector := "?labelSelector=scaledobject.keda.sh%2Fname%3Dso"

	tests := []struct {
		name       string
		client     client
		path       string
		wantStatus int
		wantMetric string // MetricName of the one item, when 200 on a metric
		wantValue  string
		wantBody   string // substring of the body
	}{
		{name: "front proxy gets lower-cased metric under original name", client: frontProxy,
			path: metricPath + "s0-webhook-x" + soSelector, wantStatus: 200, wantMetric: "s0-webhook-X", wantValue: "2500m"},
		{name: "bearer token", client: bearer,
			path: metricPath + "s0-webhook-x" + soSelector, wantStatus: 200, wantMetric: "s0-webhook-X", wantValue: "2500m"},
		{name: "anonymous is forbidden", client: anonymous,
			path: metricPath + "s0-webhook-x" + soSelector, wantStatus: 403},
		{name: "unknown metric is not found", client: frontProxy,
			path: metricPath + "s1-nope" + soSelector, wantStatus: 404, wantBody: "s1-nope"},
		{name: "selector without scaledobject label", client: frontProxy,
			path: metricPath + "s0-webhook-x?labelSelector=app%3Dweb", wantStatus: 400, wantBody: "scaledobject.keda.sh/name"},
		{name: "unavailable value shows the error", client: frontProxy,
			path: metricPath + "s0-webhook-x?labelSelector=scaledobject.keda.sh%2Fname%3Dfailing", wantStatus: 500, wantBody: "connection refused"},
		{name: "discovery lists the placeholder", client: frontProxy,
			path: "/apis/external.metrics.k8s.io/v1beta1", wantStatus: 200, wantBody: `"externalmetrics"`},
		{name: "openapi v2", client: frontProxy,
			path: "/openapi/v2", wantStatus: 200, wantBody: "ExternalMetricValueList"},
		{name: "openapi v3", client: frontProxy,
			path: "/openapi/v3/apis/external.metrics.k8s.io/v1beta1", wantStatus: 200, wantBody: "ExternalMetricValueList"},
		{name: "healthz needs no credentials", client: anonymous,
			path: "/healthz", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, state := tt.client.get(t, r.srv.Addr(), tt.path)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body: %s", status, tt.wantStatus, body)
			}
			if err := state.PeerCertificates[0].VerifyHostname("127.0.0.1"); err != nil {
				t.Errorf("serving certificate: %v", err)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %s does not contain %q", body, tt.wantBody)
			}
			if tt.wantMetric == "" {
				return
			}
			var list v1beta1.ExternalMetricValueList
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatalf("decode %s: %v", body, err)
			}
			if len(list.Items) != 1 || list.Items[0].MetricName != tt.wantMetric || list.Items[0].Value.String() != tt.wantValue {
				t.Fatalf("items = %+v, want one %s = %s", list.Items, tt.wantMetric, tt.wantValue)
			}
			if list.Items[0].Timestamp.IsZero() {
				t.Error("timestamp is zero")
			}
		})
	}

	// The aggregator's user was authorized by SubjectAccessReview.
	want := authorizationv1.ResourceAttributes{Namespace: "ns", Verb: "list", Group: "external.metrics.k8s.io", Version: "v1beta1", Resource: "s0-webhook-x"}
	if !kube.reviewed(hpaUser, want) {
		t.Errorf("no SubjectAccessReview for %s %+v", hpaUser, want)
	}

	start := time.Now()
	if err := r.stop(); err != nil {
		t.Fatalf("Start() after cancel = %v, want nil", err)
	}
	t.Logf("Start returned %v after cancel", time.Since(start).Round(time.Millisecond))
	if _, err := os.Stat("apiserver.local.config"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("apiserver.local.config in the working directory: %v", err)
	}
	kube.close() // and with it the server's idle connections to it
	checkGoroutines(t, before)
	kube.mu.Lock()
	defer kube.mu.Unlock()
	if len(kube.unknown) > 0 {
		t.Logf("requests the fake kube-apiserver did not serve: %q", kube.unknown)
	}
}

func TestServerStartFailsWhenPortIsTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv, err := New(Options{Addr: ln.Addr().String(), Kubeconfig: "/nonexistent"}, fakeValues{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Start() = %v (ctx %v), want a prompt bind error", err, ctx.Err())
	}
}

func TestServerStartFailsWhenKubeAPIServerIsDown(t *testing.T) {
	before := len(goroutines())
	kube := newFakeKube(t)
	kube.close()
	srv, err := New(Options{Addr: "127.0.0.1:0", Kubeconfig: kube.kubeconfig}, fakeValues{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = srv.Start(ctx)
	if err == nil || ctx.Err() != nil {
		t.Fatalf("Start() = %v (ctx %v), want a prompt error", err, ctx.Err())
	}
	if !strings.Contains(err.Error(), "request-header") {
		t.Errorf("Start() = %v, want the failed front-proxy lookup named", err)
	}
	// The library's authentication controllers start their workqueues when
	// built and shut them down only in Run, which a failed build never
	// reaches: those leak (the process is expected to exit); nothing else.
	checkGoroutines(t, before, "k8s.io/client-go/util/workqueue.")
}

func TestServerStartFailsWithoutKubeconfig(t *testing.T) {
	before := len(goroutines())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv, err := New(Options{Addr: addr, Kubeconfig: "/nonexistent/kubeconfig"}, fakeValues{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Start() = %v (ctx %v), want a prompt kubeconfig error", err, ctx.Err())
	}
	if got := srv.Addr(); got != "" {
		t.Errorf("Addr() = %q after a failed Start, want empty", got)
	}
	// The port is released on failure.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("port still bound after Start failed: %v", err)
	}
	ln.Close()
	checkGoroutines(t, before)
	if err := srv.Start(ctx); err == nil {
		t.Error("second Start() = nil, want an error")
	}
}

func TestServerServesGivenCertificate(t *testing.T) {
	before := len(goroutines())
	kube := newFakeKube(t)
	ca, caKey, _ := newCA(t, "serving-ca")
	cert := newLeafCert(t, ca, caKey, "pushscale-metrics-api", net.ParseIP("127.0.0.1"))
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}

	r := startServer(t, Options{Kubeconfig: kube.kubeconfig, CertFile: certFile, KeyFile: keyFile}, fakeValues{})
	status, body, state := client{}.get(t, r.srv.Addr(), "/healthz")
	if status != 200 {
		t.Errorf("GET /healthz = %d: %s", status, body)
	}
	if got := state.PeerCertificates[0].Subject.CommonName; got != "pushscale-metrics-api" {
		t.Errorf("served certificate CN = %q, want the one in CertFile", got)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Start() after cancel = %v", err)
	}
	kube.close()
	checkGoroutines(t, before) // the certificate file watcher stopped too
}

// TestServerServesRotatedCertificate serves from a certs.Holder and sets
// a new pair while serving: the next handshake presents it, without a
// restart.
func TestServerServesRotatedCertificate(t *testing.T) {
	kube := newFakeKube(t)
	ca, caKey, _ := newCA(t, "serving-ca")
	pemPair := func(cn string) ([]byte, []byte) {
		cert := newLeafCert(t, ca, caKey, cn, net.ParseIP("127.0.0.1"))
		keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	h := certs.NewHolder("metrics-api")
	if err := h.Set(pemPair("first")); err != nil {
		t.Fatal(err)
	}
	r := startServer(t, Options{Kubeconfig: kube.kubeconfig, Cert: h}, fakeValues{})
	served := func() string {
		_, _, state := client{}.get(t, r.srv.Addr(), "/healthz")
		return state.PeerCertificates[0].Subject.CommonName
	}
	if got := served(); got != "first" {
		t.Fatalf("served certificate CN = %q, want first", got)
	}
	if err := h.Set(pemPair("second")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for served() != "second" {
		if time.Now().After(deadline) {
			t.Fatal("the new certificate is not served 10 s after the Set")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.stop(); err != nil {
		t.Fatalf("Start() after cancel = %v", err)
	}
	kube.close()
}
