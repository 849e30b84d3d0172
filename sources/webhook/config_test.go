package webhook

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
)

func TestParse(t *testing.T) {
	secrets := map[string]string{"token": testToken, "hmacSecret": testSecret}
	tests := []struct {
		name        string
		md          map[string]string // targetValue defaults to 10 unless set
		auth        map[string]string
		requireAuth bool
		want        sources.Spec
		wantErr     string
	}{
		{name: "minimal", md: map[string]string{"stream": "orders"},
			want: sources.Spec{MetricName: "s3-webhook-orders", Target: 10}},
		{name: "activation and float target", md: map[string]string{"stream": "orders", "targetValue": "2.5", "activationTargetValue": "1.5"},
			want: sources.Spec{MetricName: "s3-webhook-orders", Target: 2.5, Activation: 1.5}},
		{name: "dots normalised, underscores kept", md: map[string]string{"stream": "a.b_c-d"},
			want: sources.Spec{MetricName: "s3-webhook-a-b_c-d", Target: 10}},
		{name: "all options", md: map[string]string{"stream": "x", "windowSeconds": "30", "ttlSeconds": "600", "signatureHeader": "x-hub-signature-256"},
			auth: secrets, want: sources.Spec{MetricName: "s3-webhook-x", Target: 10}},
		{name: "require auth with token", md: map[string]string{"stream": "x"}, auth: map[string]string{"token": testToken}, requireAuth: true,
			want: sources.Spec{MetricName: "s3-webhook-x", Target: 10}},
		{name: "require auth with hmac", md: map[string]string{"stream": "x"}, auth: map[string]string{"hmacSecret": testSecret}, requireAuth: true,
			want: sources.Spec{MetricName: "s3-webhook-x", Target: 10}},

		{name: "stream missing", md: map[string]string{}, wantErr: "webhook: stream: required"},
		{name: "stream upper case", md: map[string]string{"stream": "Orders"}, wantErr: `webhook: stream "Orders": must be`},
		{name: "stream ends with dash", md: map[string]string{"stream": "orders-"}, wantErr: `webhook: stream "orders-": must be`},
		{name: "stream with slash", md: map[string]string{"stream": "a/b"}, wantErr: `webhook: stream "a/b": must be`},
		{name: "stream too long", md: map[string]string{"stream": strings.Repeat("a", 254)}, wantErr: "webhook: stream"},
		{name: "target missing", md: map[string]string{"stream": "x", "targetValue": ""}, wantErr: "webhook: targetValue: required"},
		{name: "target not a number", md: map[string]string{"stream": "x", "targetValue": "abc"}, wantErr: `webhook: targetValue "abc": must be a number from 0.001 to 1e+15`},
		{name: "target zero", md: map[string]string{"stream": "x", "targetValue": "0"}, wantErr: `webhook: targetValue "0": must be a number from 0.001 to 1e+15`},
		{name: "target negative", md: map[string]string{"stream": "x", "targetValue": "-1"}, wantErr: `webhook: targetValue "-1": must be`},
		{name: "target infinite", md: map[string]string{"stream": "x", "targetValue": "+Inf"}, wantErr: `webhook: targetValue "+Inf": must be`},
		{name: "target NaN", md: map[string]string{"stream": "x", "targetValue": "NaN"}, wantErr: `webhook: targetValue "NaN": must be`},
		{name: "activation negative", md: map[string]string{"stream": "x", "activationTargetValue": "-0.5"}, wantErr: `webhook: activationTargetValue "-0.5": must be a number from 0 to 1e+15`},
		{name: "window zero", md: map[string]string{"stream": "x", "windowSeconds": "0"}, wantErr: `webhook: windowSeconds "0": must be a whole number`},
		{name: "window fraction", md: map[string]string{"stream": "x", "windowSeconds": "1.5"}, wantErr: `webhook: windowSeconds "1.5"`},
		{name: "window too long", md: map[string]string{"stream": "x", "windowSeconds": "3601"}, wantErr: `webhook: windowSeconds "3601"`},
		{name: "ttl negative", md: map[string]string{"stream": "x", "ttlSeconds": "-5"}, wantErr: `webhook: ttlSeconds "-5": must be`},
		{name: "ttl text", md: map[string]string{"stream": "x", "ttlSeconds": "1m"}, wantErr: `webhook: ttlSeconds "1m"`},
		{name: "bad signature header", md: map[string]string{"stream": "x", "signatureHeader": "X Sig"}, wantErr: `webhook: signatureHeader "X Sig": must be an HTTP header name`},
		{name: "require auth without any", md: map[string]string{"stream": "x"}, requireAuth: true, wantErr: "authentication required (--webhook-require-auth)"},
		{name: "require auth with empty values", md: map[string]string{"stream": "x"}, auth: map[string]string{"token": "", "hmacSecret": ""}, requireAuth: true, wantErr: "authentication required"},
		{name: "bad target with secrets", md: map[string]string{"stream": "x", "targetValue": "x"}, auth: secrets, wantErr: `targetValue "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := New(nil, Options{RequireAuth: tc.requireAuth})
			tr := trig(keyA, tc.md, tc.auth)
			tr.Key.Trigger = 3
			got, err := src.Parse(tr)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Parse = %v, want error containing %q", err, tc.wantErr)
				}
				for _, s := range secrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error shows a secret: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if got != tc.want {
				t.Errorf("Parse = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRequireAuthIsErrAuthRequired(t *testing.T) {
	src := New(nil, Options{RequireAuth: true})
	_, err := src.Parse(trig(keyA, map[string]string{"stream": "x"}, nil))
	if !errors.Is(err, ErrAuthRequired) {
		t.Fatalf("Parse = %v, want ErrAuthRequired", err)
	}
	if err := src.Watch(trig(keyA, map[string]string{"stream": "x"}, nil)); !errors.Is(err, ErrAuthRequired) {
		t.Fatalf("Watch = %v, want ErrAuthRequired", err)
	}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(trig(keyA, map[string]string{"stream": "x"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != DefaultWindow || c.TTL != 0 || c.SignatureHeader != DefaultSignatureHeader || c.HasAuth() {
		t.Errorf("defaults: %v", c)
	}
	c, err = ParseConfig(trig(keyA, map[string]string{"stream": "x", "windowSeconds": "5", "ttlSeconds": "7", "signatureHeader": "x-hub-signature-256"}, nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != 5*time.Second || c.TTL != 7*time.Second || c.SignatureHeader != "X-Hub-Signature-256" {
		t.Errorf("parsed: %v", c)
	}
}

func TestConfigPrintsNoSecret(t *testing.T) {
	c, err := ParseConfig(trig(keyA, map[string]string{"stream": "x"}, map[string]string{"token": testToken, "hmacSecret": testSecret}))
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(format, c)
		if strings.Contains(out, testToken) || strings.Contains(out, testSecret) || strings.Contains(out, "SECRET") {
			t.Errorf("%s shows a secret: %s", format, out)
		}
	}
}

func TestSpecMetricName(t *testing.T) {
	// KEDA's naming through api/v1alpha1: s<index>-webhook-<stream>, with
	// '.' (the one replaced character a stream may hold) as '-'.
	for _, tc := range []struct{ name, stream, want string }{
		{"plain", "jobs", "s2-webhook-jobs"},
		{"dots replaced, underscores kept", "a.b_c", "s2-webhook-a-b_c"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(trig(keyA, map[string]string{"stream": tc.stream, "targetValue": "1"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Spec(2).MetricName; got != tc.want {
				t.Errorf("MetricName = %q, want %q", got, tc.want)
			}
		})
	}
}
