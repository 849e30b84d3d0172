package companion

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	testingclock "k8s.io/utils/clock/testing"

	"github.com/pushscale/pushscale/store"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/companion/companiontest"
)

func TestStreamIsActivePushesOnPost(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := t.Context()
	stream, err := h.client.StreamIsActive(ctx, webhookRef("team-a", "worker", "jobs"))
	if err != nil {
		t.Fatal(err)
	}
	if got := recvWithin(t, stream.Recv, 5*time.Second); got.Result {
		t.Fatal("first message: active before any POST")
	}
	h.post(t, "team-a", "jobs", 5)
	if got := recvWithin(t, stream.Recv, time.Second); !got.Result {
		t.Fatal("after POST 5: not active")
	}
	h.post(t, "team-a", "jobs", 0)
	if got := recvWithin(t, stream.Recv, time.Second); got.Result {
		t.Fatal("after POST 0: still active")
	}
	resp, err := h.client.IsActive(ctx, webhookRef("team-a", "worker", "jobs"))
	if err != nil || resp.Result {
		t.Fatalf("IsActive: %v %v", resp, err)
	}
}

func TestMetricSpecAndMetrics(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	ctx := t.Context()
	ref := webhookRef("team-a", "worker", "jobs")
	spec, err := h.client.GetMetricSpec(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(spec.MetricSpecs) != 1 || spec.MetricSpecs[0].MetricName != "webhook-jobs" || spec.MetricSpecs[0].TargetSize != 2 || spec.MetricSpecs[0].TargetSizeFloat != 2 {
		t.Fatalf("spec: %v", spec)
	}
	h.post(t, "team-a", "jobs", 3)
	for _, name := range []string{"", "webhook-jobs", "WEBHOOK-JOBS", "s0-webhook-jobs"} {
		m, err := h.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: name})
		if err != nil {
			t.Fatalf("GetMetrics %q: %v", name, err)
		}
		if len(m.MetricValues) != 1 || m.MetricValues[0].MetricName != "webhook-jobs" || m.MetricValues[0].MetricValue != 3 || m.MetricValues[0].MetricValueFloat != 3 {
			t.Fatalf("GetMetrics %q: %v", name, m)
		}
	}
	_, err = h.client.GetMetrics(ctx, &pb.GetMetricsRequest{ScaledObjectRef: ref, MetricName: "redis-jobs"})
	if status.Code(err) != codes.NotFound {
		t.Fatalf("another metric's name: %v", err)
	}
	ms, err := h.client.StreamMetricSpec(ctx, ref)
	if err != nil {
		t.Fatal(err)
	}
	if got := recvWithin(t, ms.Recv, time.Second); got.MetricSpecs[0].MetricName != "webhook-jobs" {
		t.Fatalf("StreamMetricSpec: %v", got)
	}
	if h.srv.Triggers() != 1 {
		t.Fatalf("%d triggers watched for one (namespace, name, metadata)", h.srv.Triggers())
	}
}

func TestBadMetadataNamesTheField(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	const secret = "s3cret-token-value"
	cases := []struct {
		name string
		ref  *pb.ScaledObjectRef
		want string
	}{
		{"no type", &pb.ScaledObjectRef{Namespace: "a", Name: "w", ScalerMetadata: map[string]string{"stream": "x"}}, "scalerMetadata.pushscaleType: missing"},
		{"unknown type", &pb.ScaledObjectRef{Namespace: "a", Name: "w", ScalerMetadata: map[string]string{KeyType: "mongodb"}}, `pushscaleType "mongodb": not a trigger type pushscale serves`},
		{"no namespace", &pb.ScaledObjectRef{Name: "w", ScalerMetadata: map[string]string{KeyType: "webhook"}}, "scaledObjectRef.namespace"},
		{"bad polling interval", &pb.ScaledObjectRef{Namespace: "a", Name: "w", ScalerMetadata: map[string]string{KeyType: "webhook", KeyPollingInterval: "0"}}, "scalerMetadata.pushscalePollingInterval"},
		{"bad target", &pb.ScaledObjectRef{Namespace: "a", Name: "w", ScalerMetadata: map[string]string{
			KeyType: "webhook", "stream": "x", "targetValue": "-1", "allowUnauthenticated": "true", "token": secret,
		}}, "targetValue"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.client.IsActive(t.Context(), c.ref)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(status.Convert(err).Message(), c.want) {
				t.Fatalf("got %v, want InvalidArgument naming %q", err, c.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
	if h.srv.Triggers() != 0 {
		t.Fatalf("%d triggers watched after refusals", h.srv.Triggers())
	}
}

func TestBounds(t *testing.T) {
	h := newHarness(t, harnessOptions{opts: Options{MaxTriggersPerNamespace: 2, MaxTriggers: 3, MaxStreams: 1}})
	ctx := t.Context()
	for i, ns := range []string{"a", "a"} {
		if _, err := h.client.GetMetricSpec(ctx, webhookRef(ns, "w", "s"+itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	_, err := h.client.GetMetricSpec(ctx, webhookRef("a", "w", "s9"))
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "namespace a") {
		t.Fatalf("third in a namespace: %v", err)
	}
	if _, err := h.client.GetMetricSpec(ctx, webhookRef("b", "w", "s0")); err != nil {
		t.Fatalf("another namespace: %v", err)
	}
	if _, err := h.client.GetMetricSpec(ctx, webhookRef("c", "w", "s0")); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("past the total: %v", err)
	}
	// One stream at most: the second is refused.
	s1, err := h.client.StreamIsActive(ctx, webhookRef("a", "w", "s0"))
	if err != nil {
		t.Fatal(err)
	}
	recvWithin(t, s1.Recv, 5*time.Second)
	s2, err := h.client.StreamIsActive(ctx, webhookRef("a", "w", "s1"))
	if err == nil {
		_, err = s2.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second stream: %v", err)
	}
}

func TestIdleTriggersAreUnwatched(t *testing.T) {
	clk := testingclock.NewFakeClock(time.Now())
	h := newHarness(t, harnessOptions{opts: Options{Clock: clk, IdleTimeout: time.Minute}})
	ctx := t.Context()
	if _, err := h.client.IsActive(ctx, webhookRef("a", "polled", "p")); err != nil {
		t.Fatal(err)
	}
	streamCtx, closeStream := context.WithCancel(ctx)
	defer closeStream()
	s, err := h.client.StreamIsActive(streamCtx, webhookRef("a", "streamed", "s"))
	if err != nil {
		t.Fatal(err)
	}
	recvWithin(t, s.Recv, 5*time.Second)
	clk.Step(2 * time.Minute)
	h.srv.sweepIdle(ctx)
	if n := h.srv.Triggers(); n != 1 {
		t.Fatalf("%d triggers after the idle timeout, want the streamed one", n)
	}
	closeStream()
	waitFor(t, func() bool { return !h.srv.byIDHasOpenStreams() })
	h.srv.sweepIdle(ctx)
	if n := h.srv.Triggers(); n != 1 {
		t.Fatalf("%d triggers right after the stream closed, want 1 (it was used just now)", n)
	}
	clk.Step(2 * time.Minute)
	h.srv.sweepIdle(ctx)
	if n := h.srv.Triggers(); n != 0 {
		t.Fatalf("%d triggers once idle", n)
	}
	if _, ok := h.st.Get(webhookKey(h, "a", "polled", "p")); ok {
		t.Fatal("the store still holds an unwatched trigger's entry")
	}
}

func webhookKey(h *harness, ns, name, stream string) store.Key {
	r, _ := parseRef(webhookRef(ns, name, stream))
	return newTrigger(r).key
}

func (s *Server) byIDHasOpenStreams() bool {
	for _, t := range s.snapshot() {
		t.mu.Lock()
		n := len(t.subs)
		t.mu.Unlock()
		if n > 0 {
			return true
		}
	}
	return false
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 5s")
}

// fakeAuth answers parameters by namespace/name and records the calls.
type fakeAuth struct {
	mu     sync.Mutex
	params map[string]map[string]string
	calls  []string
}

func (a *fakeAuth) Resolve(_ context.Context, ns, name string) (map[string]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, ns+"/"+name)
	p, ok := a.params[ns+"/"+name]
	if !ok {
		return nil, errors.New("pushscaleAuthenticationRef: TriggerAuthentication " + ns + "/" + name + ": not found")
	}
	return p, nil
}

func (a *fakeAuth) set(key string, p map[string]string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.params[key] = p
}

func TestAuthenticationFromTheCallersNamespace(t *testing.T) {
	auth := &fakeAuth{params: map[string]map[string]string{"team-a/hook-auth": {"token": "tok-a"}}}
	h := newHarness(t, harnessOptions{opts: Options{Auth: auth, Namespace: "team-a"}})
	ctx := t.Context()
	ref := func(ns string) *pb.ScaledObjectRef {
		return &pb.ScaledObjectRef{Namespace: ns, Name: "w", ScalerMetadata: map[string]string{
			KeyType: "webhook", "stream": "jobs", "targetValue": "1", KeyAuthenticationRef: "hook-auth",
		}}
	}
	if _, err := h.client.GetMetricSpec(ctx, ref("team-a")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.GetMetricSpec(ctx, ref("team-b")); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("another namespace than --watch-namespace: %v", err)
	}
	auth.mu.Lock()
	calls := strings.Join(auth.calls, ",")
	auth.mu.Unlock()
	if calls != "team-a/hook-auth" {
		t.Fatalf("auth read %s", calls)
	}
	// The TriggerAuthentication goes: the trigger is unwatched at the
	// next refresh, and a call after is refused naming the field.
	auth.set("team-a/hook-auth", nil)
	auth.mu.Lock()
	delete(auth.params, "team-a/hook-auth")
	auth.mu.Unlock()
	h.srv.refreshAuth(ctx)
	if n := h.srv.Triggers(); n != 0 {
		t.Fatalf("%d triggers after their TriggerAuthentication went", n)
	}
	_, err := h.client.GetMetricSpec(ctx, ref("team-a"))
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "pushscaleAuthenticationRef") {
		t.Fatalf("without its TriggerAuthentication: %v", err)
	}
}

func TestMutualTLS(t *testing.T) {
	ca, err := companiontest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := companiontest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(ca *companiontest.CA, cn string) *companiontest.Leaf {
		l, err := ca.Issue(cn)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	serverCert := leaf(ca, "pushscale")
	caFile, err := companiontest.WriteFile(t.TempDir(), "ca.pem", ca.PEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ServerTLS(func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &serverCert.TLS, nil }, caFile)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, harnessOptions{serverTLS: cfg})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	call := func(client *companiontest.Leaf, name string) error {
		c, conn, err := companiontest.Dial(h.addr, ca, client)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_, err = c.GetMetricSpec(ctx, webhookRef("a", name, "jobs"))
		return err
	}
	if err := call(leaf(ca, "keda-operator"), "w"); err != nil {
		t.Fatalf("KEDA's certificate: %v", err)
	}
	if err := call(nil, "w2"); status.Code(err) != codes.Unavailable {
		t.Errorf("no client certificate: %v, want the handshake refused (Unavailable)", err)
	}
	if err := call(leaf(other, "intruder"), "w3"); status.Code(err) != codes.Unavailable {
		t.Errorf("another CA's certificate: %v, want the handshake refused (Unavailable)", err)
	}
	if h.srv.Triggers() != 1 {
		t.Fatalf("%d triggers: a refused caller made one", h.srv.Triggers())
	}
	if _, err := ServerTLS(nil, "/nonexistent/ca.pem"); err == nil || !strings.Contains(err.Error(), "--external-scaler-client-ca-file") {
		t.Fatalf("missing CA file: %v", err)
	}
}
