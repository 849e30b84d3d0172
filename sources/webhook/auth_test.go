package webhook

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushscale/pushscale/store"
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
			var rechecked ownerLog
			e := newEnv(t, Options{Recheck: rechecked.add})
			md := func(extra map[string]string) map[string]string {
				m := map[string]string{"stream": "s"}
				for k, v := range extra {
					m[k] = v
				}
				return m
			}
			e.watch(trig(keyA, md(tc.firstMD), tc.first))
			e.postJSONAuth(tc.first, `{"value": 3}`)
			e.watch(trig(keyB, md(tc.nextMD), tc.next))
			if !tc.wantErr {
				for _, k := range []store.Key{keyA, keyB} {
					if err := e.src.Check(k); err != nil {
						t.Fatalf("Check(%s) = %v", k.Name, err)
					}
				}
				if v, _ := e.sink.Value(keyB); v != 3 {
					t.Errorf("the second trigger got %g, want the stream's level 3", v)
				}
				if got := rechecked.take(); len(got) != 0 {
					t.Errorf("rechecked %v without a conflict", got)
				}
				return
			}
			// Both are refused, each naming the other, whichever came first.
			for _, k := range []store.Key{keyA, keyB} {
				err := e.src.Check(k)
				if !errors.Is(err, ErrAuthConflict) {
					t.Fatalf("Check(%s) = %v, want ErrAuthConflict", k.Name, err)
				}
				assertNoSecret(t, err.Error())
				other := map[store.Key]string{keyA: "ScaledJob b", keyB: "ScaledObject a"}[k]
				if !strings.Contains(err.Error(), `stream "s"`) || !strings.Contains(err.Error(), other) {
					t.Errorf("Check(%s) does not name the stream and %s: %v", k.Name, other, err)
				}
			}
			if got := rechecked.take(); !slices.Contains(got, keyA.Owner) {
				t.Errorf("rechecked %v, want the first trigger's owner among them", got)
			}
			if calls := e.sink.Records(keyB); len(calls) != 0 {
				t.Errorf("the refused trigger was recorded: %v", calls)
			}
			// The stream accepts nothing meanwhile, not even from the
			// first trigger's credentials.
			n := len(e.sink.Records(keyA))
			if rr := e.postJSONAuth(tc.first, `{"value": 4}`); rr.Code == 202 {
				t.Errorf("a conflicted stream accepted an event")
			}
			if got := len(e.sink.Records(keyA)); got != n {
				t.Errorf("a conflicted stream recorded the first trigger")
			}
			// The second goes: the first is served again, and told.
			e.src.Unwatch(keyB)
			if err := e.src.Check(keyA); err != nil {
				t.Fatalf("Check after the conflict ended = %v", err)
			}
			if got := rechecked.take(); !slices.Equal(got, []store.Owner{keyA.Owner}) {
				t.Errorf("rechecked %v, want the first trigger's owner", got)
			}
			if rr := e.postJSONAuth(tc.first, `{"value": 4}`); rr.Code != 202 {
				t.Errorf("the first trigger's credentials no longer work: %d %s", rr.Code, rr.Body)
			}
			if v, _ := e.sink.Value(keyA); v != 4 {
				t.Errorf("first trigger: %g, want 4", v)
			}
		})
	}
}

// TestConflictRefusesAllInEitherOrder: whichever trigger watches first,
// both are refused; once the one that differs agrees, both are served
// again from the stream's level.
func TestConflictRefusesAllInEitherOrder(t *testing.T) {
	good := map[string]string{"token": testToken}
	bad := map[string]string{"token": "other-SECRET"}
	md := map[string]string{"stream": "s"}
	for _, order := range []string{"good first", "bad first"} {
		t.Run(order, func(t *testing.T) {
			var rechecked ownerLog
			e := newEnv(t, Options{Recheck: rechecked.add})
			e.watch(trig(keyC, map[string]string{"stream": "s"}, good)) // another namespace: unaffected
			first, second := trig(keyA, md, good), trig(keyB, md, bad)
			if order == "bad first" {
				first, second = trig(keyB, md, bad), trig(keyA, md, good)
			}
			e.watch(first)
			if err := e.src.Check(first.Key); err != nil {
				t.Fatalf("Check alone = %v", err)
			}
			e.watch(second)
			for _, k := range []store.Key{keyA, keyB} {
				if err := e.src.Check(k); !errors.Is(err, ErrAuthConflict) {
					t.Errorf("Check(%s) = %v, want ErrAuthConflict", k.Name, err)
				}
			}
			if err := e.src.Check(keyC); err != nil {
				t.Errorf("a stream of another namespace: Check = %v", err)
			}
			if got := rechecked.take(); !slices.Contains(got, first.Key.Owner) {
				t.Errorf("rechecked %v, want %s", got, first.Key.Name)
			}
			if rr := e.do(req{Method: "POST", Path: path("ns", "s"), Header: map[string]string{"Authorization": "Bearer " + testToken, "Content-Type": jsonCT}, Body: `{"value": 2}`}); rr.Code != 404 {
				t.Errorf("POST to a conflicted stream: %d %s, want 404", rr.Code, rr.Body)
			}

			// B is fixed: both are served, and recorded again.
			e.watch(trig(keyB, md, good))
			for _, k := range []store.Key{keyA, keyB} {
				if err := e.src.Check(k); err != nil {
					t.Errorf("Check(%s) after the fix = %v", k.Name, err)
				}
			}
			if got := rechecked.take(); !slices.Contains(got, keyA.Owner) {
				t.Errorf("rechecked %v after the fix, want a", got)
			}
			e.postJSONAuth(good, `{"value": 5}`)
			for _, k := range []store.Key{keyA, keyB} {
				if v, ok := e.sink.Value(k); !ok || v != 5 {
					t.Errorf("%s: %g (known %v), want 5", k.Name, v, ok)
				}
			}
		})
	}
}

// ownerLog collects the owners passed to Options.Recheck.
type ownerLog struct {
	mu     sync.Mutex
	owners []store.Owner
}

func (l *ownerLog) add(o store.Owner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.owners = append(l.owners, o)
}

// take returns the owners collected so far and forgets them.
func (l *ownerLog) take() []store.Owner {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.owners
	l.owners = nil
	return out
}

func TestConflictingRewatchRefusesBoth(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"token": testToken}))
	e.watch(trig(keyB, map[string]string{"stream": "s"}, map[string]string{"token": testToken}))
	// B's secret is rotated first: the two conflict until A follows.
	e.watch(trig(keyB, map[string]string{"stream": "s"}, map[string]string{"token": "new-SECRET"}))
	if err := e.src.Check(keyA); !errors.Is(err, ErrAuthConflict) {
		t.Fatalf("Check(a) = %v", err)
	}
	n := len(e.sink.Records(keyB))
	e.postJSONAuth(map[string]string{"token": testToken}, `{"value": 1}`)
	if got := len(e.sink.Records(keyB)); got != n {
		t.Errorf("a refused trigger is still recorded")
	}
	// A follows: both agree on the new token.
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"token": "new-SECRET"}))
	if err := e.src.Check(keyB); err != nil {
		t.Fatalf("Check(b) = %v", err)
	}
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
