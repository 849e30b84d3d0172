package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func signV2(secret, ts, method, path, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "." + method + "." + path + "." + body))
	return "v2=" + hex.EncodeToString(m.Sum(nil))
}

// TestReplay is issue 10 item 5: with requireTimestamp a signed timestamp
// is mandatory, a timestamped signature is accepted once, and the v2
// scheme binds the method and the path.
func TestReplay(t *testing.T) {
	e := newEnv(t, Options{})
	secret := map[string]string{"hmacSecret": testSecret}
	e.watch(trig(keyA, map[string]string{"stream": "s", "requireTimestamp": "true"}, secret))
	e.watch(trig(keyC, map[string]string{"stream": "s"}, secret)) // namespace "other", no requireTimestamp
	const body = `{"value":4}`
	ts := strconv.FormatInt(t0.Unix(), 10)
	send := func(method, p string, h map[string]string) (int, string) {
		h["Content-Type"] = jsonCT
		b := body
		if method == http.MethodGet {
			b = ""
		}
		rr := e.do(req{Method: method, Path: p, Header: h, Body: b})
		if rr.Code >= 300 {
			return rr.Code, errorBody(t, rr)
		}
		return rr.Code, ""
	}
	check := func(name string, code int, msg string, wantCode int, wantMsg string) {
		t.Helper()
		if code != wantCode || !strings.Contains(msg, wantMsg) {
			t.Errorf("%s: %d %q, want %d %q", name, code, msg, wantCode, wantMsg)
		}
	}

	code, msg := send("POST", path("ns", "s"), map[string]string{"X-Pushscale-Signature": sign(testSecret, body)})
	check("requireTimestamp, no timestamp", code, msg, 401, "requires a signed X-Pushscale-Timestamp")

	h := func() map[string]string {
		return map[string]string{"X-Pushscale-Timestamp": ts, "X-Pushscale-Signature": sign(testSecret, ts+"."+body)}
	}
	code, msg = send("POST", path("ns", "s"), h())
	check("timestamped sha256", code, msg, 202, "")
	code, msg = send("POST", path("ns", "s"), h())
	check("the same request again", code, msg, 401, "signature already used")

	v2 := func(method, p string) map[string]string {
		return map[string]string{"X-Pushscale-Timestamp": ts, "X-Pushscale-Signature": signV2(testSecret, ts, method, p, body)}
	}
	code, msg = send("POST", path("ns", "s"), v2("POST", path("ns", "s")))
	check("v2", code, msg, 202, "")
	code, msg = send("POST", path("ns", "s"), v2("POST", path("ns", "s")))
	check("v2 again", code, msg, 401, "signature already used")
	code, msg = send("POST", path("other", "s"), v2("POST", path("ns", "s")))
	check("v2 signed for another path", code, msg, 401, "signature does not match")
	code, msg = send("POST", path("ns", "s"), map[string]string{"X-Pushscale-Signature": signV2(testSecret, ts, "POST", path("ns", "s"), body)})
	check("v2 without timestamp header", code, msg, 401, "v2 signatures need X-Pushscale-Timestamp")

	// A request refused after authentication (here: malformed) does not use
	// up its signature, so a retry is judged again, not as a replay.
	for range 2 {
		bad := `{"value":`
		rr := e.do(req{Path: path("ns", "s"), Body: bad, Header: map[string]string{"Content-Type": jsonCT,
			"X-Pushscale-Timestamp": ts, "X-Pushscale-Signature": sign(testSecret, ts+"."+bad)}})
		check("a malformed body, signed", rr.Code, errorBody(t, rr), 400, "malformed")
	}

	// Without requireTimestamp an untimestamped signature still works (as
	// GitHub signs), and is not remembered: it carries no time to forget it by.
	for range 2 {
		code, msg = send("POST", path("other", "s"), map[string]string{"X-Pushscale-Signature": sign(testSecret, body)})
		check("no requireTimestamp, body only", code, msg, 202, "")
	}
}

// TestReplayCacheBounded: the remembered signatures are bounded; past the
// bound a timestamped request is answered 503 (retryable), and signatures
// are forgotten once their timestamp leaves the window.
func TestReplayCacheBounded(t *testing.T) {
	e := newEnv(t, Options{ReplayCacheSize: 2})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"hmacSecret": testSecret}))
	post := func(value int) int {
		ts := strconv.FormatInt(e.clk.Now().Unix(), 10)
		body := `{"value":` + strconv.Itoa(value) + `}`
		return e.do(req{Path: path("ns", "s"), Body: body, Header: map[string]string{"Content-Type": jsonCT,
			"X-Pushscale-Timestamp": ts, "X-Pushscale-Signature": sign(testSecret, ts+"."+body)}}).Code
	}
	if a, b := post(1), post(2); a != 202 || b != 202 {
		t.Fatalf("first two: %d %d", a, b)
	}
	if c := post(3); c != http.StatusServiceUnavailable {
		t.Fatalf("past the bound: %d, want 503", c)
	}
	e.clk.Step(MaxClockSkew + 2*time.Minute)
	if c := post(3); c != 202 {
		t.Fatalf("after the window: %d, want 202", c)
	}
}
