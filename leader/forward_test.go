package leader

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeLeadership is a Leadership whose answers a test sets.
type fakeLeadership struct {
	mu       sync.Mutex
	leading  bool
	identity string
	address  string
	known    bool
}

func (f *fakeLeadership) Leading() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leading
}

func (f *fakeLeadership) Leader() (string, string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.identity, f.address, f.known
}

func (f *fakeLeadership) set(leading, known bool, address string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.leading, f.known, f.address, f.identity = leading, known, address, "leader-1"
}

// seen is what the leader's handler received.
type seen struct {
	method, path, query, auth, signature, forwardedBy, host, body string
}

func TestForwarder(t *testing.T) {
	var got atomic.Pointer[seen]
	leaderSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(&seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, auth: r.Header.Get("Authorization"),
			signature: r.Header.Get("X-Hub-Signature-256"), forwardedBy: r.Header.Get(ForwardedHeader), host: r.Host, body: string(b)})
		w.Header().Set("X-From", "leader")
		w.WriteHeader(http.StatusAccepted)
		_, _ = io.WriteString(w, "accepted by the leader")
	}))
	defer leaderSrv.Close()
	local := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent) // served here
	})
	lead := &fakeLeadership{}
	reg := prometheus.NewRegistry()
	f := NewForwarder(ForwarderOptions{Local: local, Leadership: lead, Identity: "standby-1", Registerer: reg})
	post := func(header http.Header) *http.Response {
		req := httptest.NewRequest(http.MethodPost, "http://pushscale-webhook.example/v1/streams/shop/orders?wait=1", strings.NewReader(`{"value": 3}`))
		for k, v := range header {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, req)
		return rec.Result()
	}
	leaderAddr := strings.TrimPrefix(leaderSrv.URL, "http://")

	t.Run("leading serves locally", func(t *testing.T) {
		lead.set(true, true, leaderAddr)
		got.Store(nil)
		if resp := post(nil); resp.StatusCode != http.StatusNoContent || got.Load() != nil {
			t.Fatalf("status %d, leader reached %v: want the local handler", resp.StatusCode, got.Load() != nil)
		}
	})
	t.Run("standby forwards everything", func(t *testing.T) {
		lead.set(false, true, leaderAddr)
		resp := post(http.Header{"Authorization": {"Bearer s3cret"}, "X-Hub-Signature-256": {"sha256=abc"}})
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted || string(b) != "accepted by the leader" || resp.Header.Get("X-From") != "leader" {
			t.Fatalf("answer %d %q %v: want the leader's", resp.StatusCode, b, resp.Header)
		}
		want := seen{method: http.MethodPost, path: "/v1/streams/shop/orders", query: "wait=1", auth: "Bearer s3cret",
			signature: "sha256=abc", forwardedBy: "standby-1", host: "pushscale-webhook.example", body: `{"value": 3}`}
		if g := got.Load(); g == nil || *g != want {
			t.Fatalf("the leader received %+v, want %+v", g, want)
		}
	})
	t.Run("no leader: 503 with Retry-After", func(t *testing.T) {
		lead.set(false, false, "")
		resp := post(nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d Retry-After %q: want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	})
	t.Run("leader without an address: 503", func(t *testing.T) {
		lead.set(false, true, "")
		if resp := post(nil); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", resp.StatusCode)
		}
	})
	t.Run("a forwarded request is not forwarded again", func(t *testing.T) {
		lead.set(false, true, leaderAddr)
		got.Store(nil)
		resp := post(http.Header{ForwardedHeader: {"standby-2"}})
		if resp.StatusCode != http.StatusServiceUnavailable || got.Load() != nil {
			t.Fatalf("status %d, leader reached %v: want 503, not forwarded", resp.StatusCode, got.Load() != nil)
		}
	})
	t.Run("leader unreachable: 502 with Retry-After", func(t *testing.T) {
		dead := httptest.NewServer(http.NotFoundHandler())
		addr := strings.TrimPrefix(dead.URL, "http://")
		dead.Close()
		lead.set(false, true, addr)
		resp := post(nil)
		if resp.StatusCode != http.StatusBadGateway || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("status %d, want 502 with Retry-After", resp.StatusCode)
		}
	})
	for result, want := range map[string]float64{"forwarded": 1, "no_leader": 2, "loop": 1, "error": 1, "busy": 0} {
		if got := testutil.ToFloat64(f.results.WithLabelValues(result)); got != want {
			t.Errorf("pushscale_webhook_forwarded_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

// TestForwarderBounded: past MaxInFlight forwarded requests at once, the
// next is answered 503 at once.
func TestForwarderBounded(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	leaderSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer leaderSrv.Close()
	defer close(release)
	lead := &fakeLeadership{}
	lead.set(false, true, strings.TrimPrefix(leaderSrv.URL, "http://"))
	f := NewForwarder(ForwarderOptions{Local: http.NotFoundHandler(), Leadership: lead, Identity: "standby", MaxInFlight: 1})
	go func() {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/streams/a/b", strings.NewReader("{}")))
	}()
	<-arrived
	rec := httptest.NewRecorder()
	f.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/streams/a/b", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, want 503 with Retry-After while the slot is taken", rec.Code)
	}
}
