package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestAuthenticatedByDefault is issue 10 item 4: with RequireAuth a stream
// without credentials needs allowUnauthenticated; a request without any
// credential gets 401 for every stream that is not open, known or not, so
// that it learns nothing of which exist; 404 only with a credential.
func TestAuthenticatedByDefault(t *testing.T) {
	e := newEnv(t, Options{RequireAuth: true})
	err := e.src.Watch(trig(keyA, map[string]string{"stream": "bare"}, nil))
	if !errors.Is(err, ErrAuthRequired) || !strings.Contains(err.Error(), "allowUnauthenticated") {
		t.Fatalf("a trigger without credentials: %v, want ErrAuthRequired naming allowUnauthenticated", err)
	}
	if _, err := ParseConfig(trig(keyA, map[string]string{"stream": "x", "allowUnauthenticated": "yes"}, nil)); err == nil || !strings.Contains(err.Error(), `allowUnauthenticated "yes"`) {
		t.Fatalf("a bad allowUnauthenticated: %v", err)
	}
	if _, err := ParseConfig(trig(keyA, map[string]string{"stream": "x", "allowUnauthenticated": "true"}, map[string]string{"token": testToken})); err == nil || !strings.Contains(err.Error(), "allowUnauthenticated") {
		t.Fatalf("allowUnauthenticated with a token: %v", err)
	}
	e.watch(trig(keyA, map[string]string{"stream": "open", "allowUnauthenticated": "true"}, nil))
	e.watch(trig(keyB, map[string]string{"stream": "closed"}, map[string]string{"token": testToken}))

	post := func(stream, ct string, h map[string]string) int {
		if h == nil {
			h = map[string]string{}
		}
		h["Content-Type"] = ct
		return e.do(req{Path: path("ns", stream), Header: h, Body: `{"value":1}`}).Code
	}
	bearer := map[string]string{"Authorization": "Bearer nope"}
	for _, tc := range []struct {
		name, stream, ct string
		h                map[string]string
		want             int
	}{
		{"open stream, no credential", "open", jsonCT, nil, 202},
		{"authenticated stream, no credential", "closed", jsonCT, nil, 401},
		{"authenticated stream, no credential, bad content type", "closed", "text/plain", nil, 401},
		{"unknown stream, no credential", "nobody", jsonCT, nil, 401},
		{"invalid stream name, no credential", "NOT_VALID", jsonCT, nil, 401},
		{"unknown stream, a credential", "nobody", jsonCT, bearer, 404},
		{"unknown stream, a signature", "nobody", jsonCT, map[string]string{"X-Hub-Signature-256": "sha256=00"}, 404},
		{"authenticated stream, wrong credential", "closed", jsonCT, bearer, 401},
	} {
		if got := post(tc.stream, tc.ct, tc.h); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}

	// With the flag off, the old behaviour: open streams need no opt-in and
	// unknown streams answer 404.
	off := newEnv(t, Options{})
	off.watch(trig(keyA, map[string]string{"stream": "bare"}, nil))
	if rr := off.postJSON("ns", "nobody", `{"value":1}`); rr.Code != 404 {
		t.Errorf("flag off, unknown stream: %d, want 404", rr.Code)
	}
}

// TestRefusalsThrottledPerAddress: refused requests spend a per-address
// budget; once spent, that address gets 429 before anything is read, other
// addresses are unaffected, and the table of addresses is bounded.
func TestRefusalsThrottledPerAddress(t *testing.T) {
	e := newEnv(t, Options{RequireAuth: true, RefusalRate: 1, RefusalBurst: 3, refusalClients: 16})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"token": testToken}))
	from := func(addr string, h map[string]string) int {
		r, _ := http.NewRequest(http.MethodPost, path("ns", "s"), strings.NewReader(`{"value":1}`))
		r.RemoteAddr = addr
		r.Header.Set("Content-Type", jsonCT)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		rr := httptest.NewRecorder()
		e.h.ServeHTTP(rr, r)
		return rr.Code
	}
	for i := range 3 {
		if c := from("192.0.2.1:1000", nil); c != 401 {
			t.Fatalf("refusal %d: %d", i, c)
		}
	}
	if c := from("192.0.2.1:1001", nil); c != http.StatusTooManyRequests {
		t.Fatalf("past the refusal budget: %d, want 429", c)
	}
	if c := from("192.0.2.1:1002", map[string]string{"Authorization": "Bearer " + testToken}); c != http.StatusTooManyRequests {
		t.Fatalf("a throttled address is throttled whatever it sends: %d", c)
	}
	if c := from("192.0.2.2:1000", map[string]string{"Authorization": "Bearer " + testToken}); c != 202 {
		t.Fatalf("another address: %d, want 202", c)
	}
	// IPv6 addresses count by /64.
	for i := range 3 {
		from("[2001:db8::"+strconv.Itoa(i+1)+"]:1", nil)
	}
	if c := from("[2001:db8::ff]:1", nil); c != http.StatusTooManyRequests {
		t.Fatalf("same /64: %d, want 429", c)
	}
	for i := range 100 {
		from("198.51.100."+strconv.Itoa(i)+":1", nil)
	}
	if n := e.src.refusals.len(); n > 16 {
		t.Fatalf("%d addresses remembered, bound 16", n)
	}
	e.clk.Step(10e9)
	if c := from("192.0.2.1:1003", map[string]string{"Authorization": "Bearer " + testToken}); c != 202 {
		t.Fatalf("after the budget refilled: %d, want 202", c)
	}
}
