package prometheus

import (
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

const token = "pr0m-bearer-t0ken"

func promTrigger(md, auth map[string]string) sources.Trigger {
	return sources.Trigger{Key: sourcetest.Key("so"), Type: Type, Metadata: md, AuthParams: auth}
}

func validMetadata() map[string]string {
	return map[string]string{"serverAddress": "http://prometheus.monitoring:9090", "query": "sum(rate(http_requests_total[1m]))", "threshold": "100"}
}

var edit = sourcetest.Edit

func TestParseConfig(t *testing.T) {
	bearer := map[string]string{"bearerToken": token}
	tests := []struct {
		name    string
		md      map[string]string
		auth    map[string]string
		wantErr string // empty: valid
		check   func(t *testing.T, c Config)
	}{
		{name: "KEDA's defaults", md: validMetadata(), check: func(t *testing.T, c Config) {
			if !c.IgnoreNullValues || c.UnsafeSSL || c.ActivationThreshold != 0 || c.Timeout != DefaultTimeout || c.Namespace != "" {
				t.Errorf("defaults: %v", c)
			}
		}},
		{name: "every key", md: edit(validMetadata(), "activationThreshold", "2.5", "namespace", "team-a", "customHeaders", "X-Scope-OrgID=tenant1, X-Other = b",
			"queryParameters", "dedup=false,partial_response=true", "ignoreNullValues", "false", "unsafeSsl", "true", "timeout", "1500"), check: func(t *testing.T, c Config) {
			if c.ActivationThreshold != 2.5 || c.Namespace != "team-a" || c.IgnoreNullValues || !c.UnsafeSSL || c.Timeout != 1500*time.Millisecond ||
				c.headers["X-Scope-OrgID"] != "tenant1" || c.headers["X-Other"] != "b" || c.QueryParameters["partial_response"] != "true" {
				t.Errorf("parsed %v", c)
			}
		}},
		{name: "timeout as a duration", md: edit(validMetadata(), "timeout", "2s"), check: func(t *testing.T, c Config) {
			if c.Timeout != 2*time.Second {
				t.Errorf("timeout %s", c.Timeout)
			}
		}},
		{name: "bearer", md: edit(validMetadata(), "authModes", "bearer"), auth: bearer},
		{name: "authModes from the TriggerAuthentication", md: validMetadata(), auth: map[string]string{"authModes": "basic", "username": "u", "password": "p4ssw0rd-x"}},
		{name: "tls and custom together", md: edit(validMetadata(), "authModes", "tls,custom"), auth: map[string]string{"cert": "c", "key": "k", "customAuthHeader": "X-Key", "customAuthValue": "v4lue-x"}},
		{name: "no serverAddress", md: edit(validMetadata(), "serverAddress", "<absent>"), wantErr: "prometheus: serverAddress: required"},
		{name: "serverAddress without scheme", md: edit(validMetadata(), "serverAddress", "prometheus:9090"), wantErr: `prometheus: serverAddress "prometheus:9090": must be an http:// or https:// URL`},
		{name: "no query", md: edit(validMetadata(), "query", "<absent>"), wantErr: "prometheus: query: required"},
		{name: "no threshold", md: edit(validMetadata(), "threshold", "<absent>"), wantErr: "prometheus: threshold: required"},
		{name: "threshold 0", md: edit(validMetadata(), "threshold", "0"), wantErr: `prometheus: threshold "0": must be a number greater than 0`},
		{name: "threshold NaN", md: edit(validMetadata(), "threshold", "NaN"), wantErr: `prometheus: threshold "NaN": must be a number greater than 0`},
		{name: "activationThreshold not a number", md: edit(validMetadata(), "activationThreshold", "x"), wantErr: `prometheus: activationThreshold "x": must be a number`},
		{name: "ignoreNullValues not a bool", md: edit(validMetadata(), "ignoreNullValues", "maybe"), wantErr: `prometheus: ignoreNullValues "maybe": must be true or false`},
		{name: "customHeaders without =", md: edit(validMetadata(), "customHeaders", "X-A"), wantErr: "prometheus: customHeaders: must be a comma separated list of key=value"},
		{name: "customHeaders with a bad name", md: edit(validMetadata(), "customHeaders", "X A=b"), wantErr: "prometheus: customHeaders: must be a comma separated list of header=value"},
		{name: "queryParameters with two =", md: edit(validMetadata(), "queryParameters", "a=b=c"), wantErr: `prometheus: queryParameters "a=b=c"`},
		{name: "timeout negative", md: edit(validMetadata(), "timeout", "-5"), wantErr: `prometheus: timeout "-5": must be a duration`},
		{name: "bearer without a token", md: edit(validMetadata(), "authModes", "bearer"), wantErr: "prometheus: bearerToken (from TriggerAuthentication): required with authModes bearer"},
		{name: "basic without a username", md: edit(validMetadata(), "authModes", "basic"), auth: map[string]string{"password": "p4ssw0rd-x"}, wantErr: "prometheus: username (from TriggerAuthentication): required with authModes basic"},
		{name: "bearer and basic", md: edit(validMetadata(), "authModes", "bearer,basic"), auth: map[string]string{"bearerToken": token, "username": "u"}, wantErr: "prometheus: authModes: bearer and basic cannot be used together"},
		{name: "tls without key", md: edit(validMetadata(), "authModes", "tls"), auth: map[string]string{"cert": "c"}, wantErr: "prometheus: key (from TriggerAuthentication): required with authModes tls"},
		{name: "custom without value", md: edit(validMetadata(), "authModes", "custom"), auth: map[string]string{"customAuthHeader": "X-Key"}, wantErr: "prometheus: customAuthValue (from TriggerAuthentication): required"},
		{name: "oauth is not supported", md: edit(validMetadata(), "authModes", "oauth"), wantErr: `prometheus: authModes "oauth": must be a comma separated list of bearer, basic, tls, custom`},
		{name: "unknown mode", md: edit(validMetadata(), "authModes", "kerberos"), wantErr: `prometheus: authModes "kerberos"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(promTrigger(tc.md, tc.auth))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ParseConfig = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("ParseConfig = %v, want an error starting %q", err, tc.wantErr)
			case err == nil && tc.check != nil:
				tc.check(t, c)
			}
			if err == nil {
				for _, s := range []string{c.String(), c.GoString()} {
					if strings.Contains(s, token) || strings.Contains(s, "p4ssw0rd") || strings.Contains(s, "v4lue") || strings.Contains(s, "tenant1") {
						t.Errorf("String shows a credential or header value: %s", s)
					}
				}
			}
		})
	}
}

// TestSpec: KEDA's metric name is the constant "prometheus".
func TestSpec(t *testing.T) {
	c, err := ParseConfig(promTrigger(edit(validMetadata(), "activationThreshold", "5"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Spec(3); got.MetricName != "s3-prometheus" || got.Target != 100 || got.Activation != 5 {
		t.Fatalf("Spec = %+v", got)
	}
}

func TestQueryURL(t *testing.T) {
	c, err := ParseConfig(promTrigger(edit(validMetadata(), "serverAddress", "https://thanos.example/prefix/?x=1", "namespace", "a&b", "queryParameters", "dedup=false"), nil))
	if err != nil {
		t.Fatal(err)
	}
	got := c.queryURL(time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC))
	want := "https://thanos.example/prefix/api/v1/query?x=1&dedup=false&namespace=a%26b&query=sum%28rate%28http_requests_total%5B1m%5D%29%29&time=2026-12-07T01%3A02%3A03Z"
	if got != want {
		t.Fatalf("queryURL =\n %s\nwant\n %s", got, want)
	}
}
