package webhook

import (
	"net/http"
	"strings"
	"testing"
)

const jsonCT = "application/json"

func TestPostStatus(t *testing.T) {
	ctJSON := map[string]string{"Content-Type": jsonCT}
	tests := []struct {
		name       string
		req        req
		wantStatus int
		wantErr    string  // in the error body
		wantLevel  float64 // after the request; it starts at 3
		reason     string  // pushscale_events_total reason
	}{
		{name: "value", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 7}`},
			wantStatus: 202, wantLevel: 7, reason: "ok"},
		{name: "value with charset", req: req{Path: path("ns", "orders"), Header: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: `{"value": 7}`},
			wantStatus: 202, wantLevel: 7, reason: "ok"},
		{name: "delta", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"delta": 2}`},
			wantStatus: 202, wantLevel: 5, reason: "ok"},
		{name: "malformed JSON", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 7`},
			wantStatus: 400, wantErr: "malformed JSON", wantLevel: 3, reason: "bad_request"},
		{name: "empty body", req: req{Path: path("ns", "orders"), Header: ctJSON},
			wantStatus: 400, wantErr: "malformed JSON", wantLevel: 3, reason: "bad_request"},
		{name: "not an object", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `7`},
			wantStatus: 400, wantErr: "malformed JSON", wantLevel: 3, reason: "bad_request"},
		{name: "trailing garbage", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 7} x`},
			wantStatus: 400, wantErr: "malformed JSON", wantLevel: 3, reason: "bad_request"},
		{name: "both value and delta", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 7, "delta": 1}`},
			wantStatus: 400, wantErr: "not both", wantLevel: 3, reason: "bad_request"},
		{name: "neither value nor delta", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"valeu": 7}`},
			wantStatus: 400, wantErr: `give "value" or "delta"`, wantLevel: 3, reason: "bad_request"},
		{name: "negative value", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": -1}`},
			wantStatus: 400, wantErr: `"value" -1: must be greater than or equal to 0`, wantLevel: 3, reason: "bad_request"},
		{name: "string value", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": "7"}`},
			wantStatus: 400, wantErr: `"value" "7": must be a number`, wantLevel: 3, reason: "bad_request"},
		{name: "null value", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": null}`},
			wantStatus: 400, wantErr: "must be a number", wantLevel: 3, reason: "bad_request"},
		{name: "boolean delta", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"delta": true}`},
			wantStatus: 400, wantErr: "must be a number", wantLevel: 3, reason: "bad_request"},
		{name: "huge value", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 1e400}`},
			wantStatus: 400, wantErr: "must be a finite number", wantLevel: 3, reason: "bad_request"},
		{name: "huge negative delta", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"delta": -1e400}`},
			wantStatus: 400, wantErr: "must be a finite number", wantLevel: 3, reason: "bad_request"},
		{name: "NaN literal", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": NaN}`},
			wantStatus: 400, wantErr: "malformed JSON", wantLevel: 3, reason: "bad_request"},
		{name: "delta past MaxValue", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"delta": 1.7e308}`},
			wantStatus: 400, wantErr: "must be between", wantLevel: 3, reason: "bad_request"},
		{name: "largest delta saturates", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"delta": 1e15}`},
			wantStatus: 202, wantLevel: MaxValue, reason: "ok"},
		{name: "unknown stream", req: req{Path: path("ns", "nobody"), Header: ctJSON, Body: `{"value": 1}`},
			wantStatus: 404, wantErr: "retry later", wantLevel: 3, reason: "not_found"},
		{name: "stream of another namespace", req: req{Path: path("other", "orders"), Header: ctJSON, Body: `{"value": 1}`},
			wantStatus: 404, wantErr: `no trigger in namespace "other" watches stream "orders"`, wantLevel: 3, reason: "not_found"},
		{name: "invalid stream name", req: req{Path: path("ns", "Orders"), Header: ctJSON, Body: `{"value": 1}`},
			wantStatus: 404, wantErr: "not a valid stream name", wantLevel: 3, reason: "not_found"},
		{name: "body too large", req: req{Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 1, "pad": "` + strings.Repeat("x", 1<<20) + `"}`},
			wantStatus: 413, wantErr: "body larger than 1048576 bytes", wantLevel: 3, reason: "too_large"},
		{name: "unsupported content type", req: req{Path: path("ns", "orders"), Header: map[string]string{"Content-Type": "text/plain"}, Body: `{"value": 1}`},
			wantStatus: 415, wantErr: "unsupported Content-Type", wantLevel: 3, reason: "unsupported_media_type"},
		{name: "no content type", req: req{Path: path("ns", "orders"), Body: `{"value": 1}`},
			wantStatus: 415, wantErr: "unsupported Content-Type", wantLevel: 3, reason: "unsupported_media_type"},
		{name: "PUT", req: req{Method: http.MethodPut, Path: path("ns", "orders"), Header: ctJSON, Body: `{"value": 1}`},
			wantStatus: 405, wantErr: "method PUT not allowed", wantLevel: 3, reason: "bad_request"},
		{name: "DELETE", req: req{Method: http.MethodDelete, Path: path("ns", "orders")},
			wantStatus: 405, wantErr: "method DELETE not allowed", wantLevel: 3, reason: "bad_request"},
		{name: "unknown path", req: req{Path: "/v1/streams/orders", Header: ctJSON, Body: `{"value": 1}`},
			wantStatus: 404, wantErr: "no such endpoint", wantLevel: 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.watch(trig(keyA, map[string]string{"stream": "orders"}, nil))
			if rr := e.postJSON("ns", "orders", `{"value": 3}`); rr.Code != 202 {
				t.Fatalf("setup: %d %s", rr.Code, rr.Body)
			}
			before := e.sink.Len()

			rr := e.do(tc.req)
			if rr.Code != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", rr.Code, rr.Body, tc.wantStatus)
			}
			if ct := rr.Header().Get("Content-Type"); ct != jsonCT {
				t.Errorf("Content-Type %q", ct)
			}
			if tc.wantErr != "" {
				if msg := errorBody(t, rr); !strings.Contains(msg, tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
				}
				if n := e.sink.Len(); n != before {
					t.Errorf("a refused request made %d sink calls: %v", n-before, e.sink.Calls()[before:])
				}
			} else {
				name, v := level(t, rr)
				if name != "orders" || v != tc.wantLevel {
					t.Errorf("answer %s=%g, want orders=%g", name, v, tc.wantLevel)
				}
				if got, _ := e.sink.Value(keyA); got != tc.wantLevel {
					t.Errorf("recorded %g, want %g", got, tc.wantLevel)
				}
			}
			if got := e.get("ns", "orders", nil); got != tc.wantLevel {
				t.Errorf("level %g after the request, want %g", got, tc.wantLevel)
			}
			if tc.wantStatus == 405 {
				if allow := rr.Header().Get("Allow"); allow != "GET, POST" {
					t.Errorf("Allow %q", allow)
				}
			}
			if tc.reason != "" {
				result := "rejected"
				if tc.reason == "ok" {
					result = "accepted"
				}
				want := 1.0
				if tc.reason == "ok" {
					want = 2 // with the setup's
				}
				if got := e.counter(result, tc.reason); got != want {
					t.Errorf("pushscale_events_total{result=%q,reason=%q} = %g, want %g", result, tc.reason, got, want)
				}
			}
		})
	}
}

func TestNotFoundIsRetryable(t *testing.T) {
	e := newEnv(t, Options{})
	rr := e.postJSON("ns", "later", `{"value": 1}`)
	if rr.Code != 404 || !strings.Contains(rr.Body.String(), `"retryable":true`) {
		t.Fatalf("%d %s", rr.Code, rr.Body)
	}
	// Once a trigger is seen, the same request succeeds.
	e.watch(trig(keyA, map[string]string{"stream": "later"}, nil))
	if rr := e.postJSON("ns", "later", `{"value": 1}`); rr.Code != 202 {
		t.Fatalf("after Watch: %d %s", rr.Code, rr.Body)
	}
}

func TestContentLengthTooLargeRefusedUnread(t *testing.T) {
	e := newEnv(t, Options{MaxBodyBytes: 11})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	if rr := e.postJSON("ns", "s", `{"value": 1}`); rr.Code != 413 {
		t.Fatalf("12-byte body with an 11-byte limit: %d %s", rr.Code, rr.Body)
	}
	if rr := e.postJSON("ns", "s", `{"value":1}`); rr.Code != 202 {
		t.Fatalf("11-byte body: %d %s", rr.Code, rr.Body)
	}
}

func TestValueAndDelta(t *testing.T) {
	steps := []struct {
		name string
		body string
		want float64
	}{
		{"set", `{"value": 5}`, 5},
		{"add", `{"delta": 2}`, 7},
		{"add a fraction", `{"delta": 0.5}`, 7.5},
		{"subtract", `{"delta": -3}`, 4.5},
		{"never below zero", `{"delta": -10}`, 0},
		{"add from zero", `{"delta": 1}`, 1},
		{"set zero", `{"value": 0}`, 0},
		{"negative zero is zero", `{"value": -0}`, 0},
		{"set large", `{"value": 1e15}`, 1e15},
		{"exponent", `{"value": 25e-1}`, 2.5},
	}
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	for _, st := range steps {
		rr := e.postJSON("ns", "s", st.body)
		if rr.Code != 202 {
			t.Fatalf("%s: %d %s", st.name, rr.Code, rr.Body)
		}
		if _, v := level(t, rr); v != st.want {
			t.Errorf("%s: answered %g, want %g", st.name, v, st.want)
		}
		if v, _ := e.sink.Value(keyA); v != st.want {
			t.Errorf("%s: recorded %g, want %g", st.name, v, st.want)
		}
	}
	// Every accepted request is recorded, even when the level is the same.
	want := []float64{0, 5, 7, 7.5, 4.5, 0, 1, 0, 0, 1e15, 2.5}
	if got := e.sink.Records(keyA); !equalFloats(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	if v := e.get("ns", "s", nil); v != 0 {
		t.Errorf("a stream nobody posted to: %g, want 0", v)
	}
	e.postJSON("ns", "s", `{"value": 4}`)
	if v := e.get("ns", "s", nil); v != 4 {
		t.Errorf("after value 4: %g", v)
	}
	rr := e.do(req{Method: http.MethodGet, Path: path("ns", "nobody")})
	if rr.Code != 404 {
		t.Errorf("GET of an unknown stream: %d", rr.Code)
	}
	if got := e.counter("rejected", "not_found"); got != 0 {
		t.Errorf("a GET was counted as an event: %g", got)
	}
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPathKey(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		want       streamKey
		ok         bool
	}{
		{"a stream", "/v1/namespaces/ns/streams/orders", streamKey{"ns", "orders"}, true},
		{"dots and dashes", "/v1/namespaces/team-a/streams/a.b-c", streamKey{"team-a", "a.b-c"}, true},
		{"no namespace", "/v1/namespaces//streams/orders", streamKey{}, false},
		{"no stream", "/v1/namespaces/ns/streams/", streamKey{}, false},
		{"trailing slash", "/v1/namespaces/ns/streams/orders/", streamKey{}, false},
		{"deeper", "/v1/namespaces/ns/streams/orders/more", streamKey{}, false},
		{"namespace with a slash", "/v1/namespaces/a/b/streams/orders", streamKey{}, false},
		{"other prefix", "/v2/namespaces/ns/streams/orders", streamKey{}, false},
		{"double slash", "//v1/namespaces/ns/streams/orders", streamKey{}, false},
		{"no streams segment", "/v1/namespaces/ns/stream/orders", streamKey{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pathKey(tc.path)
			if got != tc.want || ok != tc.ok {
				t.Errorf("pathKey(%q) = %+v, %v; want %+v, %v", tc.path, got, ok, tc.want, tc.ok)
			}
		})
	}
}
