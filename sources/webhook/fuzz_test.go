package webhook

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// The fuzz targets below cover every parser of untrusted input: request
// bodies in each mode, the signature and timestamp headers, and trigger
// metadata. Their seeds live in testdata/fuzz/<target>; `go test` runs the
// seeds, `make fuzz` fuzzes each target in turn. Every crash found is kept
// there as a seed.

// checkOp fails t when a parsed op breaks the parsers' contract.
func checkOp(t *testing.T, o op) {
	t.Helper()
	switch o.kind {
	case opValue:
		if !(o.n >= 0) || o.n > MaxValue {
			t.Fatalf("value %g: must be from 0 to MaxValue", o.n)
		}
	case opDelta:
		if !(o.n >= -MaxValue && o.n <= MaxValue) {
			t.Fatalf("delta %g: must be within ±MaxValue", o.n)
		}
	case opArrival:
	default:
		t.Fatalf("op kind %d", o.kind)
	}
}

func FuzzParsePlain(f *testing.F) {
	for _, s := range []string{`{"value":1}`, `{"delta":-2.5}`, `{"value":1e306}`, `{"value":"1"}`, `{"value":1,"delta":1}`, `[]`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if o, err := parsePlain(body); err == nil {
			checkOp(t, o)
		}
	})
}

// FuzzScanValueBody checks that every body scanValueBody reads is read
// the same by json.Unmarshal.
func FuzzScanValueBody(f *testing.F) {
	for _, s := range []string{`{"delta": 1}`, `{"value":1}`, ` { "delta" : -2.5e+3 } `, `{"value":0}`, `{"value":01}`,
		`{"value":1.}`, `{"value":-}`, `{"value":1e}`, `{"Value":1}`, `{"value":1,"delta":1}`, `{"value":"1"}`,
		`{"value":1}x`, `{"value":1`, "{\"delta\":\t1\r\n}", `{"delta":1E400}`, `{"v\u0061lue":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanValueBody(body)
		if !ok {
			return
		}
		var want valueBody
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("scanValueBody read %q, json.Unmarshal refuses it: %v", body, err)
		}
		if string(got.Value) != string(want.Value) || string(got.Delta) != string(want.Delta) || (got.Value == nil) != (want.Value == nil) || (got.Delta == nil) != (want.Delta == nil) {
			t.Fatalf("%q: scanValueBody %+v, json.Unmarshal %+v", body, got, want)
		}
	})
}

func FuzzParseStructured(f *testing.F) {
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"value":3}}`))
	f.Add([]byte(`{"specversion":"1.0","id":"1","source":"/s","type":"t","data":"x"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if o, err := parseStructured(body); err == nil {
			checkOp(t, o)
		}
	})
}

func FuzzParseBatch(f *testing.F) {
	const ev = `{"specversion":"1.0","id":"1","source":"/s","type":"t"}`
	f.Add([]byte(`[` + ev + `,` + ev + `]`))
	f.Add([]byte(`[{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{"delta":1}}]`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		const max = 3
		ops, err := parseBatch(body, nil, max)
		if err != nil {
			return
		}
		if len(ops) > max {
			t.Fatalf("%d events accepted, more than the maximum %d", len(ops), max)
		}
		for _, o := range ops {
			checkOp(t, o)
		}
	})
}

func FuzzParseBinary(f *testing.F) {
	f.Add("application/json", "1.0", "1", "/s", "t", []byte(`{"value":2}`))
	f.Add("text/plain", "1.0", "1", "/s", "t", []byte(`hello`))
	f.Fuzz(func(t *testing.T, ct, spec, id, source, typ string, body []byte) {
		h := http.Header{}
		h.Set("Content-Type", ct)
		h.Set(headerSpecVersion, spec)
		h.Set(headerID, id)
		h.Set(headerSource, source)
		h.Set(headerType, typ)
		if o, err := parseBinary(h, body); err == nil {
			checkOp(t, o)
		}
	})
}

func FuzzSignatureHeaders(f *testing.F) {
	f.Add(sign(testSecret, `{"value":1}`), "", []byte(`{"value":1}`))
	f.Add("sha256="+strings.Repeat("ab", 40), "1893553445", []byte(`{}`))
	f.Add("v2=00", "-1", []byte(``))
	f.Fuzz(func(t *testing.T, sig, ts string, body []byte) {
		a := newAuth("", testSecret, DefaultSignatureHeader, false)
		h := http.Header{}
		h.Set(DefaultSignatureHeader, sig)
		h.Set(TimestampHeader, ts)
		const p = "/v1/namespaces/ns/streams/s"
		// Only a valid MAC passes (hex digits in any case): over the body,
		// over ts.body, or (v2) over ts.POST.path.body.
		_, err := a.verify(request{header: h, method: "POST", path: p, body: body}, t0)
		if err == nil && !strings.EqualFold(sig, sign(testSecret, string(body))) && !strings.EqualFold(sig, signV2(testSecret, ts, "POST", p, string(body))) {
			if !strings.EqualFold(sig, sign(testSecret, ts+"."+string(body))) {
				t.Fatalf("signature %q accepted for body %q", sig, body)
			}
		}
	})
}

func FuzzParseConfig(f *testing.F) {
	f.Add("jobs", "5", "0", "60", "600", "X-Hub-Signature-256", "true", "false", true)
	f.Add("a", "1e-300", "1e300", "3600", "2147483647", "", "", "", false)
	f.Fuzz(func(t *testing.T, stream, target, activation, window, ttl, sigHeader, requireTS, allowUnauth string, secret bool) {
		var auth map[string]string
		if secret {
			auth = map[string]string{paramHMACSecret: testSecret}
		}
		c, err := ParseConfig(sources.Trigger{Type: Type, AuthParams: auth, Metadata: map[string]string{
			keyStream: stream, keyTarget: target, keyActivation: activation,
			keyWindow: window, keyTTL: ttl, keySignatureHeader: sigHeader,
			keyRequireTS: requireTS, "allowUnauthenticated": allowUnauth,
		}})
		if err != nil {
			return
		}
		if !(c.TargetValue >= 0.001) || c.TargetValue > MaxValue || !(c.ActivationTargetValue >= 0) || c.ActivationTargetValue > MaxValue {
			t.Fatalf("accepted targetValue %g, activationTargetValue %g", c.TargetValue, c.ActivationTargetValue)
		}
		if c.Window <= 0 || c.TTL < 0 {
			t.Fatalf("accepted window %s, ttl %s", c.Window, c.TTL)
		}
		if c.RequireTimestamp && !secret {
			t.Fatalf("requireTimestamp accepted without hmacSecret")
		}
	})
}

// FuzzHandler sends whole requests through the handler of a source with one
// open and one signed stream: any answer but a panic is fine, and nothing
// outside [0, +Inf) is ever recorded.
func FuzzHandler(f *testing.F) {
	f.Add("POST", "/v1/namespaces/ns/streams/s", "application/json", "", "", "", []byte(`{"value":1}`))
	f.Add("POST", "/v1/namespaces/ns/streams/h", "application/cloudevents-batch+json", sign(testSecret, `[]`), "", "", []byte(`[]`))
	f.Add("POST", "/v1/namespaces/ns/streams/s", "", "", "", "1.0", []byte(`{"delta":1}`))
	f.Add("GET", "/v1/namespaces/ns/streams/h", "", "sha256=zz", "x", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target, ct, sig, ts, spec string, body []byte) {
		e := newEnv(t, Options{RateLimit: 1000})
		e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
		e.watch(trig(keyB, map[string]string{"stream": "h"}, map[string]string{"hmacSecret": testSecret}))
		hr, err := http.NewRequest(method, "http://gw"+target, strings.NewReader(string(body)))
		if err != nil {
			return // not a request a server could receive
		}
		hr.Header.Set("Content-Type", ct)
		hr.Header.Set(DefaultSignatureHeader, sig)
		hr.Header.Set(TimestampHeader, ts)
		if spec != "" {
			for k, v := range ceHeaders(map[string]string{"Ce-Specversion": spec}) {
				hr.Header.Set(k, v)
			}
		}
		e.h.ServeHTTP(httptest.NewRecorder(), hr)
		for _, k := range []store.Key{keyA, keyB} {
			for _, v := range e.sink.Records(k) {
				if !(v >= 0) || v > MaxValue {
					t.Fatalf("recorded %g for %v", v, k)
				}
			}
		}
	})
}
