package external

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls/clienttlstest"
	"github.com/pushscale/pushscale/sources/external/externaltest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

func key(name string, trigger int) store.Key {
	return sourcetest.KeyOf(store.ScaledObject, "ns", name, trigger)
}

// testOptions shorten KEDA's backoff so that reconnects fit in a test.
var testOptions = Options{Timeout: 2 * time.Second, ParseWait: 2 * time.Second, OpenTimeout: 2 * time.Second, FirstBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}

// env is a source under test with a real Scheduler writing to a recording
// sink; both run until the test ends.
type env struct {
	t       *testing.T
	sink    *sourcetest.Sink
	src     *Source
	logs    *sourcetest.LogBuffer
	recheck atomic.Int32
}

func newEnv(t *testing.T, disablePush bool) *env {
	t.Helper()
	e := &env{t: t, sink: sourcetest.NewSink(), logs: &sourcetest.LogBuffer{}}
	d := sourcetest.NewDeps(t, e.sink) // its Scheduler runs until t ends
	d.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d.Recheck = func(store.Owner) { e.recheck.Add(1) }
	if disablePush {
		d.DisablePush = map[string]bool{TypePush: true}
	}
	e.src = New(d, testOptions)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- e.src.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-stopped; err != nil {
			t.Errorf("Start = %v", err)
		}
		if t.Failed() {
			t.Logf("source log:\n%s", e.logs)
		}
	})
	return e
}

func trigger(k store.Key, typ string, srv *externaltest.Server, poll time.Duration) sources.Trigger {
	return sources.Trigger{Key: k, Type: typ, Metadata: map[string]string{"scalerAddress": srv.Addr(), "queue": "jobs"}, PollingInterval: poll}
}

func (e *env) watch(tr sources.Trigger) sources.Spec {
	e.t.Helper()
	spec, err := e.src.Parse(tr)
	if err != nil {
		e.t.Fatalf("Parse = %v", err)
	}
	if err := e.src.Watch(tr); err != nil {
		e.t.Fatalf("Watch = %v", err)
	}
	return spec
}

// awaitActive waits for a read of k that recorded value v with activity
// active.
func (e *env) awaitActive(k store.Key, v float64, active bool) {
	e.t.Helper()
	e.sink.Await(e.t, "read", func() bool {
		c, ok := e.sink.Last(k)
		return ok && c.Value == v && c.Active != nil && *c.Active == active
	})
}

func TestConformance(t *testing.T) {
	pki := clienttlstest.NewPKI(t)
	srv := externaltest.Start(t, externaltest.Options{TLS: serverTLS(t, pki)})
	tr := sources.Trigger{Key: key("conf", 0), Type: TypePush,
		Metadata:        map[string]string{"scalerAddress": srv.Addr(), "queue": "jobs"},
		AuthParams:      map[string]string{"caCert": pki.CA, "tlsClientCert": pki.ClientCert, "tlsClientKey": pki.ClientKey},
		PollingInterval: time.Second}
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d, testOptions) }, tr)
}

// serverTLS is a server configuration that asks for a client certificate
// of pki's CA.
func serverTLS(t *testing.T, pki clienttlstest.PKI) *tls.Config {
	t.Helper()
	cert, err := tls.X509KeyPair([]byte(pki.ServerCert), []byte(pki.ServerKey))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(pki.CA))
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// TestSpecAndReads: the metric name is s<i>-<the scaler's name>, not
// normalised; GetMetrics is asked for the name without the prefix; the
// scaler's metadata is the trigger's.
func TestSpecAndReads(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{MetricName: "Queue.Len/x", Target: 2.5})
	e := newEnv(t, false)
	k := key("spec", 3)
	srv.Set(7.5, true)
	spec := e.watch(trigger(k, Type, srv, time.Hour))
	if spec.MetricName != "s3-Queue.Len/x" || spec.Target != 2.5 || spec.Activation != 0 {
		t.Errorf("spec = %+v", spec)
	}
	e.awaitActive(k, 7.5, true)
	for _, n := range srv.MetricNames() {
		if n != "Queue.Len/x" {
			t.Errorf("GetMetrics asked for %q", n)
		}
	}
	if md := srv.Metadata(); md["queue"] != "jobs" || md["scalerAddress"] != srv.Addr() {
		t.Errorf("scalerMetadata = %v", md)
	}
}

// TestIntegerFields: a scaler that fills only the integer fields (before
// KEDA 2.17) is read through them.
func TestIntegerFields(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{IntOnly: true, Target: 4})
	e := newEnv(t, false)
	k := key("ints", 0)
	srv.Set(9, false)
	if spec := e.watch(trigger(k, Type, srv, time.Hour)); spec.Target != 4 {
		t.Errorf("target = %g", spec.Target)
	}
	e.awaitActive(k, 9, false)
}

func TestMetricValueRule(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    *pb.MetricValue
		want float64
	}{
		{"float wins when > 0", &pb.MetricValue{MetricValue: 3, MetricValueFloat: 2.5}, 2.5},
		{"float 0 falls back to int", &pb.MetricValue{MetricValue: 3}, 3},
		{"negative float falls back to int", &pb.MetricValue{MetricValue: 3, MetricValueFloat: -1}, 3},
		{"both 0", &pb.MetricValue{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricValue(tc.v); got != tc.want {
				t.Errorf("metricValue = %g, want %g", got, tc.want)
			}
		})
	}
}

// TestPushTrueFalse: true activates at once (the leading edge records 1
// before the read), false is read and honoured; the trigger is read only
// on pushes (pollingInterval an hour).
func TestPushTrueFalse(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{})
	e := newEnv(t, false)
	k := key("push", 0)
	e.watch(trigger(k, TypePush, srv, time.Hour))
	e.sink.AwaitPush(t, k, ReasonSubscribed)
	e.awaitActive(k, 0, false)
	e.sink.Reset()
	srv.Push(3, true)
	e.awaitActive(k, 3, true)
	if rs := e.sink.Records(k); len(rs) < 2 || rs[0] != 1 {
		t.Errorf("records = %v, want the leading edge 1 first", rs)
	}
	srv.Push(0, false)
	e.awaitActive(k, 0, false)
}

// TestStreamRestart: a scaler that goes away is SubscriptionLost (and
// polled); what it says while away, and after it is back, is read when
// its stream opens again.
func TestStreamRestart(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{})
	e := newEnv(t, false)
	k := key("restart", 0)
	e.watch(trigger(k, TypePush, srv, time.Hour))
	e.sink.AwaitPush(t, k, ReasonSubscribed)
	e.awaitActive(k, 0, false)
	srv.Stop()
	p := e.sink.AwaitPush(t, k, ReasonSubscriptionLost)
	if !strings.Contains(p.Message, "StreamIsActive") {
		t.Errorf("message %q", p.Message)
	}
	srv.Set(4, true)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	e.sink.AwaitPush(t, k, ReasonSubscribed)
	e.awaitActive(k, 4, true)
	sourcetest.Eventually(t, "one stream", func() bool { return srv.Streams() == 1 })
}

// TestPolled: external is polled every pollingInterval and says so.
func TestPolled(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{})
	e := newEnv(t, false)
	k := key("polled", 0)
	e.watch(trigger(k, Type, srv, 100*time.Millisecond))
	e.sink.AwaitPush(t, k, ReasonNotSupported)
	e.awaitActive(k, 0, false)
	srv.Set(2, true)
	e.awaitActive(k, 2, true)
	if n := srv.Streams(); n != 0 {
		t.Errorf("%d streams for an external trigger", n)
	}
}

// TestPushDisabled: --disable-push external-push: no stream, polled.
func TestPushDisabled(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{})
	e := newEnv(t, true)
	k := key("off", 0)
	e.watch(trigger(k, TypePush, srv, 100*time.Millisecond))
	e.sink.AwaitPush(t, k, ReasonDisabledByConfig)
	srv.Set(1, true)
	e.awaitActive(k, 1, true)
	if n := srv.Streams(); n != 0 {
		t.Errorf("%d streams with push disabled", n)
	}
}

// TestNoStreamIsNotSupported: a scaler without StreamIsActive is polled,
// PushHealthy NotSupported.
func TestNoStreamIsNotSupported(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{NoStream: true})
	e := newEnv(t, false)
	k := key("nostream", 0)
	e.watch(trigger(k, TypePush, srv, 100*time.Millisecond))
	if p := e.sink.AwaitPush(t, k, ReasonNotSupported); !strings.Contains(p.Message, "Unimplemented") {
		t.Errorf("message %q", p.Message)
	}
}

// TestConnectionsPooled: triggers with the same address and TLS settings
// share one connection, closed after the last leaves; each distinct
// request has its stream.
func TestConnectionsPooled(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{})
	e := newEnv(t, false)
	a, b := key("a", 0), key("b", 0)
	e.watch(trigger(a, TypePush, srv, time.Hour))
	e.watch(trigger(b, TypePush, srv, time.Hour))
	e.sink.AwaitPush(t, a, ReasonSubscribed)
	e.sink.AwaitPush(t, b, ReasonSubscribed)
	live := func() int { e.src.mu.Lock(); defer e.src.mu.Unlock(); return len(e.src.live) }
	if n := live(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	sourcetest.Eventually(t, "two streams", func() bool { return srv.Streams() == 2 })
	e.src.Unwatch(a)
	sourcetest.Eventually(t, "one stream", func() bool { return srv.Streams() == 1 })
	if n := live(); n != 1 {
		t.Errorf("%d connections after one left, want 1", n)
	}
	e.src.Unwatch(b)
	if n := live(); n != 0 {
		t.Errorf("%d connections after the last left, want 0", n)
	}
	sourcetest.Eventually(t, "no stream", func() bool { return srv.Streams() == 0 })
}

// TestParseKeepsSpec: a scaler down at a later Parse does not make the
// trigger invalid (the spec it gave is kept); a scaler never reached is an
// error naming the address, and the owner is checked again later.
func TestParseKeepsSpec(t *testing.T) {
	srv := externaltest.Start(t, externaltest.Options{})
	e := newEnv(t, false)
	k := key("keep", 0)
	tr := trigger(k, TypePush, srv, time.Hour)
	want := e.watch(tr)
	srv.Stop()
	got, err := e.src.Parse(tr)
	if err != nil || got != want {
		t.Errorf("Parse with the scaler down = %+v, %v; want %+v", got, err, want)
	}
	other := trigger(key("never", 0), TypePush, srv, time.Hour)
	other.Metadata["queue"] = "other"
	_, err = e.src.Parse(other)
	if err == nil || !strings.Contains(err.Error(), "GetMetricSpec of scalerAddress "+srv.Addr()) {
		t.Fatalf("Parse = %v", err)
	}
	sourcetest.Eventually(t, "a recheck", func() bool { return e.recheck.Load() > 0 })
}

// TestBadTLS: the scaler refuses a client without its certificate; the
// error says so and shows no material.
func TestBadTLS(t *testing.T) {
	pki := clienttlstest.NewPKI(t)
	srv := externaltest.Start(t, externaltest.Options{TLS: serverTLS(t, pki)})
	e := newEnv(t, false)
	tr := trigger(key("tls", 0), TypePush, srv, time.Hour)
	tr.AuthParams = map[string]string{"caCert": pki.CA}
	_, err := e.src.Parse(tr)
	if err == nil || strings.Contains(err.Error(), "CERTIFICATE") {
		t.Errorf("Parse without a client certificate = %v", err)
	}
	tr.AuthParams = map[string]string{"caCert": pki.CA, "tlsClientCert": pki.ClientCert, "tlsClientKey": pki.ClientKey}
	e.watch(tr)
	e.sink.AwaitPush(t, tr.Key, ReasonSubscribed)
}

// TestParseDoesNotWaitForAnUnresponsiveScaler: a scaler that accepts
// connections and never answers holds Parse up for ParseWait at most, and
// once its ask failed, not at all (a tenant's unreachable address cannot
// tie up the reconcile workers every ScaledObject shares); the owner is
// checked again.
func TestParseDoesNotWaitForAnUnresponsiveScaler(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, silent
		}
	}()
	e := &env{t: t, sink: sourcetest.NewSink(), logs: &sourcetest.LogBuffer{}}
	d := sourcetest.NewDeps(t, e.sink)
	d.Recheck = func(store.Owner) { e.recheck.Add(1) }
	opts := testOptions
	opts.ParseWait, opts.Timeout = 100*time.Millisecond, 500*time.Millisecond
	e.src = New(d, opts)
	tr := sources.Trigger{Key: key("silent", 0), Type: Type, Metadata: map[string]string{"scalerAddress": ln.Addr().String()}, PollingInterval: time.Hour}

	start := time.Now()
	_, err = e.src.Parse(tr)
	if err == nil || !strings.Contains(err.Error(), "no answer within 100ms") {
		t.Fatalf("Parse = %v, want no answer yet", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Parse waited %v for a silent scaler, want about ParseWait (100ms)", took)
	}
	// The ask times out (Timeout): the owner is checked again after the
	// backoff, and that Parse answers the failure without waiting.
	sourcetest.Eventually(t, "a recheck after the failed ask", func() bool { return e.recheck.Load() > 0 })
	start = time.Now()
	_, err = e.src.Parse(tr)
	if err == nil || strings.Contains(err.Error(), "no answer within") {
		t.Fatalf("Parse after a failed ask = %v, want that failure", err)
	}
	if took := time.Since(start); took > 50*time.Millisecond {
		t.Fatalf("Parse after a failed ask waited %v, want no wait", took)
	}
}
