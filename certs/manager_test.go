package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
	clocktesting "k8s.io/utils/clock/testing"
)

const testNS = "pushscale-system"

var start = time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

// newFakeKube returns a fake clientset whose Secret updates are optimistic
// as the apiserver's: an update carrying a stale resourceVersion is a
// Conflict. (The fake tracker alone accepts any update.)
func newFakeKube(objs ...runtime.Object) *fake.Clientset {
	kube := fake.NewClientset(objs...)
	var mu sync.Mutex
	rv := 0
	kube.PrependReactor("create", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		rv++
		a.(clienttesting.CreateAction).GetObject().(*corev1.Secret).ResourceVersion = strconv.Itoa(rv)
		return false, nil, nil
	})
	kube.PrependReactor("update", "secrets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		sec := a.(clienttesting.UpdateAction).GetObject().(*corev1.Secret)
		cur, err := kube.Tracker().Get(corev1.SchemeGroupVersion.WithResource("secrets"), sec.Namespace, sec.Name)
		if err != nil {
			return true, nil, err
		}
		if cur.(*corev1.Secret).ResourceVersion != sec.ResourceVersion {
			return true, nil, apierrors.NewConflict(corev1.Resource("secrets"), sec.Name, nil)
		}
		rv++
		sec.ResourceVersion = strconv.Itoa(rv)
		return false, nil, nil
	})
	return kube
}

func newTestManager(t *testing.T, kube *fake.Clientset, clk *clocktesting.FakeClock, reg *prometheus.Registry) (*Manager, *Holder) {
	t.Helper()
	h := NewHolder("test")
	var metrics *Metrics
	if reg != nil {
		metrics = NewMetrics(reg)
		metrics.Watch("admission", h)
	}
	m, err := New(Options{
		Kube: kube, Namespace: testNS, SecretName: "pushscale-certificates",
		Lifetime: 90 * time.Minute, DNSNames: append(DefaultDNSNames(testNS), "localhost"),
		Holder: h, Clock: clk, Logger: slog.New(slog.DiscardHandler), Metrics: metrics,
	})
	if err != nil {
		t.Fatal(err)
	}
	return m, h
}

func getSecret(t *testing.T, kube *fake.Clientset) *corev1.Secret {
	t.Helper()
	s, err := kube.CoreV1().Secrets(testNS).Get(context.Background(), "pushscale-certificates", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func servingSerial(t *testing.T, s *corev1.Secret) string {
	t.Helper()
	b, err := parseBundle(s.Data)
	if err != nil {
		t.Fatal(err)
	}
	return b.cert.SerialNumber.String()
}

func TestCreatesSecretWhenMissing(t *testing.T) {
	kube := newFakeKube()
	reg := prometheus.NewRegistry()
	m, h := newTestManager(t, kube, clocktesting.NewFakeClock(start), reg)
	wait, err := m.reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if wait != 15*time.Minute {
		t.Errorf("next check in %v, want lifetime/6 = 15m", wait)
	}
	s := getSecret(t, kube)
	if s.Type != corev1.SecretTypeTLS || s.Labels[ManagedByLabel] != "pushscale" {
		t.Errorf("Secret type %q labels %v, want kubernetes.io/tls managed by pushscale", s.Type, s.Labels)
	}
	b, err := parseBundle(s.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.cert.NotAfter.Sub(start); got != 90*time.Minute {
		t.Errorf("serving certificate lives %v, want 90m", got)
	}
	if got := b.ca.NotAfter.Sub(start); got != 900*time.Minute {
		t.Errorf("CA lives %v, want 10 lifetimes", got)
	}
	if !sameNames(b.cert.DNSNames, append(DefaultDNSNames(testNS), "localhost")) {
		t.Errorf("names %v", b.cert.DNSNames)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(s.Data[KeyCA])
	if _, err := b.cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "pushscale-admission.pushscale-system.svc", CurrentTime: start}); err != nil {
		t.Errorf("serving certificate does not verify with ca.crt: %v", err)
	}
	cur, _ := h.CurrentCertKeyContent()
	if string(cur) != string(s.Data[KeyCert]) {
		t.Error("the holder does not serve the Secret's certificate")
	}
	if got := testutil.ToFloat64(m.opts.Metrics.rotations); got != 1 {
		t.Errorf("rotations %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.opts.Metrics.expiry.WithLabelValues("admission")); got != float64(b.cert.NotAfter.Unix()) {
		t.Errorf("expiry gauge %v, want %d", got, b.cert.NotAfter.Unix())
	}
}

func TestReusesValidSecret(t *testing.T) {
	kube := newFakeKube()
	clk := clocktesting.NewFakeClock(start)
	first, _ := newTestManager(t, kube, clk, nil)
	if _, err := first.reconcile(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := getSecret(t, kube)
	clk.Step(59 * time.Minute) // 31m left of 90m: not yet a third
	second, h := newTestManager(t, kube, clk, nil)
	wait, err := second.reconcile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if wait != time.Minute {
		t.Errorf("next check in %v, want 1m (when the last third begins)", wait)
	}
	if after := getSecret(t, kube); after.ResourceVersion != before.ResourceVersion {
		t.Error("a valid Secret was rewritten")
	}
	cur, _ := h.CurrentCertKeyContent()
	if string(cur) != string(before.Data[KeyCert]) {
		t.Error("the holder does not serve the existing certificate")
	}
}

func TestReplacesUnusableOrForeignSecret(t *testing.T) {
	cases := []struct {
		name string
		data map[string][]byte
	}{
		{"empty", nil},
		{"garbage", map[string][]byte{KeyCert: []byte("x"), KeyKey: []byte("y")}},
		{"other names", func() map[string][]byte {
			b, err := newBundle(start, 90*time.Minute, []string{"other.example"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return b.data()
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			kube := newFakeKube(&corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Name: "pushscale-certificates", Namespace: testNS, ResourceVersion: "0"},
				Type:       corev1.SecretTypeOpaque, Data: tc.data,
			})
			m, _ := newTestManager(t, kube, clocktesting.NewFakeClock(start), nil)
			if _, err := m.reconcile(context.Background()); err != nil {
				t.Fatal(err)
			}
			b, err := parseBundle(getSecret(t, kube).Data)
			if err != nil {
				t.Fatalf("Secret still unusable: %v", err)
			}
			if !sameNames(b.cert.DNSNames, m.opts.DNSNames) {
				t.Errorf("names %v", b.cert.DNSNames)
			}
		})
	}
}

func TestRotatesWhenDue(t *testing.T) {
	kube := newFakeKube()
	clk := clocktesting.NewFakeClock(start)
	reg := prometheus.NewRegistry()
	m, h := newTestManager(t, kube, clk, reg)
	ctx := context.Background()
	if _, err := m.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	first := getSecret(t, kube)
	firstCA := string(first.Data[KeyCA])

	clk.Step(time.Hour + time.Second) // past NotAfter - lifetime/3
	if _, err := m.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	second := getSecret(t, kube)
	if servingSerial(t, second) == servingSerial(t, first) {
		t.Fatal("not rotated once due")
	}
	if string(second.Data[KeyCA]) != firstCA {
		t.Error("the CA changed although it outlives another serving lifetime")
	}
	cur, _ := h.CurrentCertKeyContent()
	if string(cur) != string(second.Data[KeyCert]) {
		t.Error("the holder still serves the old certificate")
	}
	if got := testutil.ToFloat64(m.opts.Metrics.rotations); got != 2 {
		t.Errorf("rotations %v, want 2", got)
	}

	// The CA (900m) has less than one serving lifetime left after 811m:
	// the next rotation brings a new CA, the old one kept in ca.crt.
	for clk.Now().Sub(start) < 811*time.Minute {
		clk.Step(time.Hour)
		if _, err := m.reconcile(ctx); err != nil {
			t.Fatal(err)
		}
	}
	last := getSecret(t, kube)
	b, err := parseBundle(last.Data)
	if err != nil {
		t.Fatal(err)
	}
	cas, _ := parseCerts(last.Data[KeyCA])
	if len(cas) != 2 || string(encodeCert(cas[1].Raw)) != firstCA {
		t.Fatalf("ca.crt holds %d certificates, want the new CA then the old one", len(cas))
	}
	if b.ca.NotAfter.Sub(clk.Now()) < 9*90*time.Minute {
		t.Errorf("new CA expires %v", b.ca.NotAfter)
	}
}

func TestNeedsRenewal(t *testing.T) {
	names := []string{"a.svc", "localhost"}
	b, err := newBundle(start, 90*time.Minute, names, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		now      time.Time
		lifetime time.Duration
		names    []string
		want     string
	}{
		{"fresh", start, 90 * time.Minute, names, ""},
		{"names in another order", start, 90 * time.Minute, []string{"localhost", "a.svc"}, ""},
		{"just before the last third", start.Add(60*time.Minute - time.Second), 90 * time.Minute, names, ""},
		{"last third", start.Add(60 * time.Minute), 90 * time.Minute, names, "due"},
		{"expired", start.Add(2 * time.Hour), 90 * time.Minute, names, "due"},
		{"a name more", start, 90 * time.Minute, append(names, "b.svc"), "names changed"},
		{"lifetime lowered", start, 30 * time.Minute, names, "lifetime lowered"},
		{"lifetime raised", start, 120 * time.Minute, names, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.needsRenewal(tc.now, tc.lifetime, tc.names); got != tc.want {
				t.Errorf("needsRenewal = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRacingManagersConverge runs several replicas' checks at once, on a
// missing Secret and on a due one: every replica ends serving the one
// certificate the Secret holds.
func TestRacingManagersConverge(t *testing.T) {
	kube := newFakeKube()
	clk := clocktesting.NewFakeClock(start)
	var managers []*Manager
	var holders []*Holder
	for range 4 {
		m, h := newTestManager(t, kube, clk, nil)
		managers, holders = append(managers, m), append(holders, h)
	}
	race := func() {
		var wg sync.WaitGroup
		for _, m := range managers {
			wg.Go(func() {
				if _, err := m.reconcile(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		want := string(getSecret(t, kube).Data[KeyCert])
		for i, h := range holders {
			if cur, _ := h.CurrentCertKeyContent(); string(cur) != want {
				t.Errorf("replica %d serves another certificate than the Secret's", i)
			}
		}
	}
	race()
	clk.Step(time.Hour + time.Second)
	race()
}

// TestServedCertificateReloads serves TLS from a Holder and checks that a
// new handshake presents the rotated certificate without restarting the
// server.
func TestServedCertificateReloads(t *testing.T) {
	kube := newFakeKube()
	clk := clocktesting.NewFakeClock(time.Now())
	m, h := newTestManager(t, kube, clk, nil)
	ctx := context.Background()
	if _, err := m.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", h.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	served := func() string {
		t.Helper()
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(getSecret(t, kube).Data[KeyCA])
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "localhost", Time: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := served()
	if before != servingSerial(t, getSecret(t, kube)) {
		t.Fatal("served certificate is not the Secret's")
	}
	clk.Step(time.Hour + time.Second)
	if _, err := m.reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	after := served()
	if after == before || after != servingSerial(t, getSecret(t, kube)) {
		t.Fatalf("served serial %s after rotation, want the Secret's new one (was %s)", after, before)
	}
}
