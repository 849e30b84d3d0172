package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAuth(t *testing.T) {
	const body = `{"value": 4}`
	ts := strconv.FormatInt(t0.Unix(), 10)
	tsOld := strconv.FormatInt(t0.Add(-5*time.Minute-time.Second).Unix(), 10)
	tsFuture := strconv.FormatInt(t0.Add(6*time.Minute).Unix(), 10)
	tsEdge := strconv.FormatInt(t0.Add(-5*time.Minute).Unix(), 10)
	token := map[string]string{"token": testToken}
	secret := map[string]string{"hmacSecret": testSecret}
	both := map[string]string{"token": testToken, "hmacSecret": testSecret}
	github := map[string]string{"stream": "s", "signatureHeader": "X-Hub-Signature-256"}
	plain := map[string]string{"stream": "s"}
	tests := []struct {
		name       string
		md, auth   map[string]string
		header     map[string]string
		wantStatus int
		wantErr    string
		wantBearer bool
	}{
		{name: "no auth configured", md: plain, wantStatus: 202},
		{name: "bearer ok", md: plain, auth: token, header: map[string]string{"Authorization": "Bearer " + testToken}, wantStatus: 202},
		{name: "bearer scheme in lower case", md: plain, auth: token, header: map[string]string{"Authorization": "bearer " + testToken}, wantStatus: 202},
		{name: "bearer missing", md: plain, auth: token, wantStatus: 401, wantErr: "missing bearer token", wantBearer: true},
		{name: "bearer wrong", md: plain, auth: token, header: map[string]string{"Authorization": "Bearer nope"}, wantStatus: 401, wantErr: "wrong bearer token", wantBearer: true},
		{name: "bearer prefix of the token", md: plain, auth: token, header: map[string]string{"Authorization": "Bearer " + testToken[:5]}, wantStatus: 401, wantErr: "wrong bearer token", wantBearer: true},
		{name: "basic instead of bearer", md: plain, auth: token, header: map[string]string{"Authorization": "Basic " + testToken}, wantStatus: 401, wantErr: "missing bearer token", wantBearer: true},
		{name: "hmac ok", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Signature": sign(testSecret, body)}, wantStatus: 202},
		{name: "hmac wrong secret", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Signature": sign("other", body)}, wantStatus: 401, wantErr: "signature does not match"},
		{name: "hmac of another body", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Signature": sign(testSecret, `{"value": 5}`)}, wantStatus: 401, wantErr: "signature does not match"},
		{name: "hmac missing", md: plain, auth: secret, wantStatus: 401, wantErr: "missing signature header X-Pushscale-Signature"},
		{name: "hmac not hex", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Signature": "sha256=zz"}, wantStatus: 401, wantErr: "must be sha256=<hex"},
		{name: "hmac without prefix", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Signature": strings.TrimPrefix(sign(testSecret, body), "sha256=")}, wantStatus: 401, wantErr: "must be sha256=<hex"},
		{name: "hmac sha1", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Signature": "sha1=0123"}, wantStatus: 401, wantErr: "must be sha256=<hex"},
		{name: "github header ok", md: github, auth: secret, header: map[string]string{"X-Hub-Signature-256": sign(testSecret, body)}, wantStatus: 202},
		{name: "github header expected, default sent", md: github, auth: secret, header: map[string]string{"X-Pushscale-Signature": sign(testSecret, body)}, wantStatus: 401, wantErr: "missing signature header X-Hub-Signature-256"},
		{name: "timestamp now", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Timestamp": ts, "X-Pushscale-Signature": sign(testSecret, ts+"."+body)}, wantStatus: 202},
		{name: "timestamp 5 minutes old", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Timestamp": tsEdge, "X-Pushscale-Signature": sign(testSecret, tsEdge+"."+body)}, wantStatus: 202},
		{name: "timestamp too old", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Timestamp": tsOld, "X-Pushscale-Signature": sign(testSecret, tsOld+"."+body)}, wantStatus: 401, wantErr: "more than 5 minutes from now"},
		{name: "timestamp in the future", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Timestamp": tsFuture, "X-Pushscale-Signature": sign(testSecret, tsFuture+"."+body)}, wantStatus: 401, wantErr: "more than 5 minutes from now"},
		{name: "timestamp not signed", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Timestamp": ts, "X-Pushscale-Signature": sign(testSecret, body)}, wantStatus: 401, wantErr: "signature does not match"},
		{name: "timestamp not a number", md: plain, auth: secret, header: map[string]string{"X-Pushscale-Timestamp": "now", "X-Pushscale-Signature": sign(testSecret, "now."+body)}, wantStatus: 401, wantErr: "must be unix seconds"},
		{name: "both ok", md: plain, auth: both, header: map[string]string{"Authorization": "Bearer " + testToken, "X-Pushscale-Signature": sign(testSecret, body)}, wantStatus: 202},
		{name: "both, token only", md: plain, auth: both, header: map[string]string{"Authorization": "Bearer " + testToken}, wantStatus: 401, wantErr: "missing signature header"},
		{name: "both, signature only", md: plain, auth: both, header: map[string]string{"X-Pushscale-Signature": sign(testSecret, body)}, wantStatus: 401, wantErr: "missing bearer token", wantBearer: true},
		{name: "both, wrong signature", md: plain, auth: both, header: map[string]string{"Authorization": "Bearer " + testToken, "X-Pushscale-Signature": sign("x", body)}, wantStatus: 401, wantErr: "signature does not match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.watch(trig(keyA, tc.md, tc.auth))
			before := e.sink.Len()
			h := map[string]string{"Content-Type": jsonCT}
			for k, v := range tc.header {
				h[k] = v
			}
			rr := e.do(req{Path: path("ns", "s"), Header: h, Body: body})
			if rr.Code != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", rr.Code, rr.Body, tc.wantStatus)
			}
			if tc.wantStatus == 202 {
				if v, _ := e.sink.Value(keyA); v != 4 {
					t.Errorf("recorded %g, want 4", v)
				}
				return
			}
			if msg := errorBody(t, rr); !strings.Contains(msg, tc.wantErr) {
				t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
			}
			if got := rr.Header().Get("WWW-Authenticate"); strings.HasPrefix(got, "Bearer") != tc.wantBearer {
				t.Errorf("WWW-Authenticate %q, want Bearer: %v", got, tc.wantBearer)
			}
			if e.sink.Len() != before {
				t.Errorf("an unauthenticated request was recorded: %v", e.sink.Calls()[before:])
			}
			if got := e.counter("rejected", "unauthorized"); got != 1 {
				t.Errorf("unauthorized count %g, want 1", got)
			}
			assertNoSecret(t, rr.Body.String()+headerString(rr.Header())+e.logs.String())
		})
	}
}

func TestGetNeedsAuth(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"token": testToken}))
	rr := e.do(req{Method: http.MethodGet, Path: path("ns", "s")})
	if rr.Code != 401 {
		t.Fatalf("GET without token: %d", rr.Code)
	}
	if v := e.get("ns", "s", map[string]string{"Authorization": "Bearer " + testToken}); v != 0 {
		t.Errorf("GET with token: %g", v)
	}
}

func TestSharedStreamAuth(t *testing.T) {
	tokenX := map[string]string{"token": testToken}
	tests := []struct {
		name        string
		first, next map[string]string // auth params
		firstMD     map[string]string
		nextMD      map[string]string
		wantErr     bool
	}{
		{name: "same token", first: tokenX, next: map[string]string{"token": testToken}},
		{name: "no auth twice", first: nil, next: nil},
		{name: "different token", first: tokenX, next: map[string]string{"token": "other-SECRET"}, wantErr: true},
		{name: "token against none", first: tokenX, next: nil, wantErr: true},
		{name: "none against token", first: nil, next: tokenX, wantErr: true},
		{name: "added hmac", first: tokenX, next: map[string]string{"token": testToken, "hmacSecret": testSecret}, wantErr: true},
		{name: "different hmac", first: map[string]string{"hmacSecret": testSecret}, next: map[string]string{"hmacSecret": "other-SECRET"}, wantErr: true},
		{name: "different signature header", first: map[string]string{"hmacSecret": testSecret}, next: map[string]string{"hmacSecret": testSecret},
			nextMD: map[string]string{"signatureHeader": "X-Hub-Signature-256"}, wantErr: true},
		{name: "same signature header, other case", first: map[string]string{"hmacSecret": testSecret}, next: map[string]string{"hmacSecret": testSecret},
			firstMD: map[string]string{"signatureHeader": "x-hub-signature-256"}, nextMD: map[string]string{"signatureHeader": "X-Hub-Signature-256"}},
		{name: "signature header without hmac is irrelevant", first: tokenX, next: tokenX, nextMD: map[string]string{"signatureHeader": "X-Other"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			md := func(extra map[string]string) map[string]string {
				m := map[string]string{"stream": "s"}
				for k, v := range extra {
					m[k] = v
				}
				return m
			}
			e.watch(trig(keyA, md(tc.firstMD), tc.first))
			e.postJSONAuth(tc.first, `{"value": 3}`)
			err := e.src.Watch(trig(keyB, md(tc.nextMD), tc.next))
			if !tc.wantErr {
				if err != nil {
					t.Fatalf("Watch = %v", err)
				}
				if v, _ := e.sink.Value(keyB); v != 3 {
					t.Errorf("the second trigger got %g, want the stream's level 3", v)
				}
				return
			}
			if !errors.Is(err, ErrAuthConflict) {
				t.Fatalf("Watch = %v, want ErrAuthConflict", err)
			}
			assertNoSecret(t, err.Error())
			if !strings.Contains(err.Error(), `stream "s"`) || !strings.Contains(err.Error(), "ScaledObject a") {
				t.Errorf("error does not name the stream and the first trigger: %v", err)
			}
			if calls := e.sink.Records(keyB); len(calls) != 0 {
				t.Errorf("the refused trigger was recorded: %v", calls)
			}
			// The stream keeps the first trigger's authentication.
			if rr := e.postJSONAuth(tc.first, `{"value": 4}`); rr.Code != 202 {
				t.Errorf("the first trigger's credentials no longer work: %d %s", rr.Code, rr.Body)
			}
			if v, _ := e.sink.Value(keyA); v != 4 {
				t.Errorf("first trigger: %g, want 4", v)
			}
		})
	}
}

func TestConflictingRewatchDropsTheTrigger(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"token": testToken}))
	e.watch(trig(keyB, map[string]string{"stream": "s"}, map[string]string{"token": testToken}))
	// B's secret is rotated first: it conflicts with A and is no longer
	// watched, so nothing more is recorded for it.
	if err := e.src.Watch(trig(keyB, map[string]string{"stream": "s"}, map[string]string{"token": "new-SECRET"})); !errors.Is(err, ErrAuthConflict) {
		t.Fatalf("Watch = %v", err)
	}
	n := len(e.sink.Records(keyB))
	e.postJSONAuth(map[string]string{"token": testToken}, `{"value": 1}`)
	if got := len(e.sink.Records(keyB)); got != n {
		t.Errorf("a refused trigger is still recorded")
	}
	// A, now alone, may change the stream's authentication; B then agrees.
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"token": "new-SECRET"}))
	e.watch(trig(keyB, map[string]string{"stream": "s"}, map[string]string{"token": "new-SECRET"}))
	if rr := e.postJSONAuth(map[string]string{"token": "new-SECRET"}, `{"value": 2}`); rr.Code != 202 {
		t.Fatalf("new token: %d %s", rr.Code, rr.Body)
	}
	if rr := e.postJSONAuth(map[string]string{"token": testToken}, `{"value": 2}`); rr.Code != 401 {
		t.Fatalf("old token: %d %s", rr.Code, rr.Body)
	}
}

// postJSONAuth posts body to ns/s with the credentials of auth params.
func (e *env) postJSONAuth(auth map[string]string, body string) *httptest.ResponseRecorder {
	h := map[string]string{"Content-Type": jsonCT}
	if tok := auth["token"]; tok != "" {
		h["Authorization"] = "Bearer " + tok
	}
	if sec := auth["hmacSecret"]; sec != "" {
		h["X-Pushscale-Signature"] = sign(sec, body)
		h["X-Hub-Signature-256"] = sign(sec, body)
	}
	return e.do(req{Path: path("ns", "s"), Header: h, Body: body})
}

func headerString(h http.Header) string {
	var b strings.Builder
	for k, vs := range h {
		b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	return b.String()
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{testToken, testSecret, "SECRET"} {
		if strings.Contains(s, secret) {
			t.Errorf("a secret shows: %s", s)
		}
	}
}
