package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

// t0 is on a whole second, so that windows line up with the test's steps.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

const (
	testToken  = "tok-7f3a9c-SECRET"
	testSecret = "hmac-51b2e0-SECRET"
)

// env is a source under test with its fakes.
type env struct {
	t    *testing.T
	clk  *clocktesting.FakeClock
	sink *sourcetest.Sink
	src  *Source
	h    http.Handler
	reg  *prometheus.Registry
	logs *sourcetest.LogBuffer
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	e := &env{t: t, clk: clocktesting.NewFakeClock(t0), sink: sourcetest.NewSink(), reg: prometheus.NewRegistry(), logs: &sourcetest.LogBuffer{}}
	opts.Clock = e.clk
	if opts.RefusalRate == 0 {
		opts.RefusalRate = -1 // every request comes from one address here
	}
	opts.Registerer = e.reg
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.src = New(e.sink, opts)
	e.h = e.src.Handler()
	return e
}

// start runs Start until the test ends.
func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.src.Start(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Start = %v", err)
		}
	})
}

// step advances the fake clock once Start's loop is idle, so that the loop
// never arms a timer from a time read before the step.
func (e *env) step(d time.Duration) {
	e.t.Helper()
	e.awaitIdle()
	e.clk.Step(d)
}

// awaitIdle waits until Start's loop is blocked with nothing pending for
// it.
func (e *env) awaitIdle() {
	e.t.Helper()
	deadline := time.Now().Add(sourcetest.WaitTimeout)
	for !e.src.loopIdle.Load() || len(e.src.sched.wake) > 0 || len(e.src.changed) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatal("Start's loop never became idle")
		}
		time.Sleep(100 * time.Microsecond)
	}
}

var key = sourcetest.KeyOf

var (
	keyA = key(store.ScaledObject, "ns", "a", 0)
	keyB = key(store.ScaledJob, "ns", "b", 1)
	keyC = key(store.ScaledObject, "other", "c", 0)
)

func trig(k store.Key, md map[string]string, auth map[string]string) sources.Trigger {
	m := map[string]string{"targetValue": "10"}
	for k, v := range md {
		m[k] = v
	}
	return sources.Trigger{Key: k, Type: Type, Metadata: m, AuthParams: auth}
}

func (e *env) watch(tr sources.Trigger) {
	e.t.Helper()
	if err := e.src.Watch(tr); err != nil {
		e.t.Fatalf("Watch(%v) = %v", tr.Key, err)
	}
}

func path(ns, stream string) string { return "/v1/namespaces/" + ns + "/streams/" + stream }

// req is one request; Header values are set, Body sent as is.
type req struct {
	Method string
	Path   string
	Header map[string]string
	Body   string
}

func (e *env) do(r req) *httptest.ResponseRecorder {
	e.t.Helper()
	if r.Method == "" {
		r.Method = http.MethodPost
	}
	hr := httptest.NewRequest(r.Method, r.Path, strings.NewReader(r.Body))
	for k, v := range r.Header {
		hr.Header.Set(k, v)
	}
	rr := httptest.NewRecorder()
	e.h.ServeHTTP(rr, hr)
	return rr
}

// postJSON posts body as application/json to ns/stream.
func (e *env) postJSON(ns, stream, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(req{Path: path(ns, stream), Header: map[string]string{"Content-Type": "application/json"}, Body: body})
}

// level decodes a level answer.
func level(t *testing.T, rr *httptest.ResponseRecorder) (string, float64) {
	t.Helper()
	var got struct {
		Stream string   `json:"stream"`
		Value  *float64 `json:"value"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &got); err != nil || got.Value == nil {
		t.Fatalf("answer %d %q: not a level (%v)", rr.Code, rr.Body, err)
	}
	return got.Stream, *got.Value
}

// errorBody decodes an error answer.
func errorBody(t *testing.T, rr *httptest.ResponseRecorder) string {
	t.Helper()
	var got struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(rr.Body.Bytes(), &got); err != nil || got.Error == "" {
		t.Fatalf("answer %d %q: not an error body (%v)", rr.Code, rr.Body, err)
	}
	return got.Error
}

// get returns the stream's level as GET answers it.
func (e *env) get(ns, stream string, hdr map[string]string) float64 {
	e.t.Helper()
	rr := e.do(req{Method: http.MethodGet, Path: path(ns, stream), Header: hdr})
	if rr.Code != http.StatusOK {
		e.t.Fatalf("GET %s/%s = %d %s", ns, stream, rr.Code, rr.Body)
	}
	_, v := level(e.t, rr)
	return v
}

// counter returns pushscale_events_total{source=webhook,result,reason}.
func (e *env) counter(result, reason string) float64 {
	e.t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "pushscale_events_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["source"] == Type && labels["result"] == result && labels["reason"] == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func sign(secret, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(body))
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
