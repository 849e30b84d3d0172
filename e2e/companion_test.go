package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/companion/companiontest"
	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/gateway/gatewaytest"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// companionGateway is a gateway in companion mode started by a test.
type companionGateway struct {
	opts gateway.Options
	// ca signed the serving certificate and KEDA's client certificate.
	ca *companiontest.CA
}

// startCompanionGateway runs a second gateway with --mode=companion until
// t ends: its external scaler serves mTLS with a certificate of a fresh
// CA that also signs the callers' certificates; it keeps its webhook
// levels in ns. No KEDA runs: the test plays KEDA's operator.
func startCompanionGateway(t *testing.T, ns string) *companionGateway {
	t.Helper()
	ca, err := companiontest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	opts, err := gatewaytest.Companion(gw.opts, t.TempDir(), ca)
	if err != nil {
		t.Fatal(err)
	}
	opts.WatchLabelSelector, opts.ClusterObjectNamespace = "", ns
	opts.Logger = opts.Logger.With("gateway", "companion")
	runExtraGateway(t, "companion gateway", opts)
	return &companionGateway{opts: opts, ca: ca}
}

// keda dials the external scaler as KEDA's operator would, with a client
// certificate of the gateway's client CA.
func (c *companionGateway) keda(t *testing.T) pb.ExternalScalerClient {
	t.Helper()
	leaf, err := c.ca.Issue("keda-operator")
	if err != nil {
		t.Fatal(err)
	}
	client, conn, err := companiontest.Dial(c.opts.ExternalScalerAddr, c.ca, leaf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return client
}

// TestCompanionMode: without KEDA, a gRPC client plays KEDA's operator
// against a gateway in companion mode over mTLS. For a webhook trigger
// and a Redis list trigger (credentials from a TriggerAuthentication in
// the caller's namespace), both with pollingInterval one hour, it opens
// StreamIsActive, reads GetMetricSpec and GetMetrics as KEDA does (the
// prefix stripped, and an empty name), and sees true pushed within two
// seconds of a webhook POST and of an LPUSH: only a push can explain it.
// Callers without a client certificate, or with another CA's, are refused.
func TestCompanionMode(t *testing.T) {
	ns := newNamespace(t)
	const password = "companion-redis-pa55word"
	redisSrv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: password})
	apply(t, ns, fmt.Sprintf(redisAuth, "", "", password)) // the Secret and TriggerAuthentication redis-auth
	cg := startCompanionGateway(t, ns)
	keda := cg.keda(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	scalerAddress := "pushscale-external-scaler." + ns + ".svc:9443"
	hookRef := &pb.ScaledObjectRef{Namespace: ns, Name: "hooked", ScalerMetadata: map[string]string{
		"scalerAddress": scalerAddress, "pushscaleType": "webhook", "pushscalePollingInterval": "3600",
		"stream": "jobs", "targetValue": "2", "allowUnauthenticated": "true",
	}}
	redisRef := &pb.ScaledObjectRef{Namespace: ns, Name: "listed", ScalerMetadata: map[string]string{
		"scalerAddress": scalerAddress, "pushscaleType": "redis", "pushscalePollingInterval": "3600",
		"pushscaleAuthenticationRef": "redis-auth",
		"address":                    redisSrv.Addr(), "listName": "jobs", "listLength": "2",
	}}

	// The companion gateway serves no external metrics API.
	if c, err := net.DialTimeout("tcp", cg.opts.MetricsAPIAddr, time.Second); err == nil {
		c.Close()
		t.Fatal("companion mode serves the external metrics API")
	}

	for _, c := range []struct {
		ref  *pb.ScaledObjectRef
		name string
	}{{hookRef, "webhook-jobs"}, {redisRef, "redis-jobs"}} {
		spec, err := keda.GetMetricSpec(ctx, c.ref)
		if err != nil {
			t.Fatalf("GetMetricSpec %s: %v", c.name, err)
		}
		if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != c.name || spec.MetricSpecs[0].TargetSize != 2 || spec.MetricSpecs[0].TargetSizeFloat != 2 {
			t.Fatalf("GetMetricSpec %s: %v", c.name, spec)
		}
	}
	hookStream := openActivity(t, ctx, keda, hookRef)
	redisStream := openActivity(t, ctx, keda, redisRef)

	// A webhook POST: true pushed at once.
	start := time.Now()
	resp, err := http.Post("http://"+cg.opts.WebhookAddr+"/v1/namespaces/"+ns+"/streams/jobs", "application/json", strings.NewReader(`{"value": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST: %s", resp.Status)
	}
	hookStream.wantActive(t, true, 2*time.Second)
	t.Logf("webhook POST → StreamIsActive true in %v", time.Since(start).Round(time.Millisecond))
	wantMetric(t, ctx, keda, hookRef, "webhook-jobs", 5)

	// An LPUSH: true pushed at once (keyspace notification, then one read).
	start = time.Now()
	if err := redisSrv.Client().LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	redisStream.wantActive(t, true, 2*time.Second)
	t.Logf("LPUSH → StreamIsActive true in %v", time.Since(start).Round(time.Millisecond))
	wantMetric(t, ctx, keda, redisRef, "redis-jobs", 1)
	for _, ref := range []*pb.ScaledObjectRef{hookRef, redisRef} {
		if r, err := keda.IsActive(ctx, ref); err != nil || !r.Result {
			t.Fatalf("IsActive %s: %v %v", ref.Name, r, err)
		}
	}

	// Unauthenticated callers are refused at the handshake.
	other, err := companiontest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	intruder, err := other.Issue("intruder")
	if err != nil {
		t.Fatal(err)
	}
	for name, leaf := range map[string]*companiontest.Leaf{"no client certificate": nil, "another CA's client certificate": intruder} {
		client, conn, err := companiontest.Dial(cg.opts.ExternalScalerAddr, cg.ca, leaf)
		if err != nil {
			t.Fatal(err)
		}
		_, err = client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: hookRef})
		conn.Close()
		if status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want the handshake refused", name, err)
		}
	}
	if strings.Contains(gwLogs.String(), password) {
		t.Fatal("the Redis password appears in the gateways' logs")
	}
}

// activity is an open StreamIsActive.
type activity struct {
	msgs chan bool
	errs chan error
}

// openActivity opens StreamIsActive for ref and checks that its first
// message (sent as soon as the trigger has a value) is false.
func openActivity(t *testing.T, ctx context.Context, keda pb.ExternalScalerClient, ref *pb.ScaledObjectRef) *activity {
	t.Helper()
	stream, err := keda.StreamIsActive(ctx, ref)
	if err != nil {
		t.Fatalf("StreamIsActive %s: %v", ref.Name, err)
	}
	a := &activity{msgs: make(chan bool, 16), errs: make(chan error, 1)}
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				a.errs <- err
				return
			}
			a.msgs <- m.Result
		}
	}()
	a.wantActive(t, false, shortWait)
	return a
}

func (a *activity) wantActive(t *testing.T, want bool, within time.Duration) {
	t.Helper()
	select {
	case got := <-a.msgs:
		if got != want {
			t.Fatalf("StreamIsActive sent %v, want %v", got, want)
		}
	case err := <-a.errs:
		t.Fatalf("StreamIsActive ended: %v", err)
	case <-time.After(within):
		t.Fatalf("StreamIsActive sent nothing within %v (want %v)", within, want)
	}
}

// wantMetric calls GetMetrics as KEDA does: the name without its "s0-"
// prefix, then lower-cased as the HPA asks, then empty (all metrics).
func wantMetric(t *testing.T, ctx context.Context, keda pb.ExternalScalerClient, ref *pb.ScaledObjectRef, name string, want float64) {
	t.Helper()
	for _, asked := range []string{name, strings.ToLower(name), ""} {
		m, err := keda.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: asked})
		if err != nil {
			t.Fatalf("GetMetrics %q: %v", asked, err)
		}
		if len(m.MetricValues) != 1 || m.MetricValues[0].MetricName != name || m.MetricValues[0].MetricValueFloat != want || m.MetricValues[0].MetricValue != int64(want) {
			t.Fatalf("GetMetrics %q: %v, want %s = %v", asked, m, name, want)
		}
	}
}
