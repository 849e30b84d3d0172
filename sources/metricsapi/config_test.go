package metricsapi

import (
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

const apiKey = "m3trics-api-k3y"

func apiTrigger(md, auth map[string]string) sources.Trigger {
	return sources.Trigger{Key: sourcetest.Key("so"), Type: Type, Metadata: md, AuthParams: auth}
}

func validMetadata() map[string]string {
	return map[string]string{"url": "http://app.default:8080/stats", "valueLocation": "queue.pending", "targetValue": "5"}
}

var edit = sourcetest.Edit

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		md      map[string]string
		auth    map[string]string
		wantErr string // empty: valid
		check   func(t *testing.T, c Config)
	}{
		{name: "KEDA's defaults", md: validMetadata(), check: func(t *testing.T, c Config) {
			if c.Format != FormatJSON || c.ActivationTargetValue != 0 || c.UnsafeSSL || c.Timeout != DefaultTimeout || c.TargetValue != 5 {
				t.Errorf("defaults: %v", c)
			}
		}},
		{name: "every key", md: edit(validMetadata(), "format", "yaml", "activationTargetValue", "1.5", "unsafeSsl", "true", "timeout", "2s", "aggregationType", "sum"), check: func(t *testing.T, c Config) {
			if c.Format != FormatYAML || c.ActivationTargetValue != 1.5 || !c.UnsafeSSL || c.Timeout != 2*time.Second {
				t.Errorf("parsed %v", c)
			}
		}},
		{name: "prometheus selector", md: edit(validMetadata(), "format", "prometheus", "valueLocation", `jobs_pending{queue="a,b", env="prod"}`), check: func(t *testing.T, c Config) {
			if c.selector.name != "jobs_pending" || c.selector.labels["queue"] != "a,b" || c.selector.labels["env"] != "prod" {
				t.Errorf("selector %+v", c.selector)
			}
		}},
		{name: "apiKey in a header from the TriggerAuthentication", md: edit(validMetadata(), "authMode", "apiKey"), auth: map[string]string{"apiKey": apiKey, "keyParamName": "X-Key"}},
		{name: "apiKey in the query", md: edit(validMetadata(), "authMode", "apiKey", "method", "query"), auth: map[string]string{"apiKey": apiKey}},
		{name: "basic", md: validMetadata(), auth: map[string]string{"authModes": "basic", "username": "u", "password": "p4ssw0rd-x"}},
		{name: "bearer", md: edit(validMetadata(), "authModes", "bearer"), auth: map[string]string{"bearerToken": apiKey}},
		{name: "no url", md: edit(validMetadata(), "url", "<absent>"), wantErr: "metrics-api: url: required"},
		{name: "url not http", md: edit(validMetadata(), "url", "ftp://x/y"), wantErr: `metrics-api: url "ftp://x/y": must be an http:// or https:// URL`},
		{name: "no valueLocation", md: edit(validMetadata(), "valueLocation", "<absent>"), wantErr: "metrics-api: valueLocation: required"},
		{name: "no targetValue", md: edit(validMetadata(), "targetValue", "<absent>"), wantErr: "metrics-api: targetValue: required"},
		{name: "targetValue 0", md: edit(validMetadata(), "targetValue", "0"), wantErr: `metrics-api: targetValue "0": must be a number greater than 0`},
		{name: "activationTargetValue not a number", md: edit(validMetadata(), "activationTargetValue", "lots"), wantErr: `metrics-api: activationTargetValue "lots": must be a number`},
		{name: "unknown format", md: edit(validMetadata(), "format", "csv"), wantErr: `metrics-api: format "csv": must be one of json, yaml, xml, prometheus`},
		{name: "xml refused", md: edit(validMetadata(), "format", "xml"), wantErr: `metrics-api: format "xml": not supported`},
		{name: "bad selector", md: edit(validMetadata(), "format", "prometheus", "valueLocation", `jobs{queue=~"a.*"}`), wantErr: `metrics-api: valueLocation "jobs{queue=~\"a.*\"}": must be a metric selector`},
		{name: "aggregation refused", md: edit(validMetadata(), "aggregateFromKubeServiceEndpoints", "true"), wantErr: `metrics-api: aggregateFromKubeServiceEndpoints "true": not supported`},
		{name: "unknown aggregationType", md: edit(validMetadata(), "aggregationType", "median"), wantErr: `metrics-api: aggregationType "median": must be one of average, sum, max, min`},
		{name: "apiKey without a key", md: edit(validMetadata(), "authMode", "apiKey"), wantErr: "metrics-api: apiKey (from TriggerAuthentication): required with authModes apiKey"},
		{name: "apiKey with a bad method", md: edit(validMetadata(), "authMode", "apiKey", "method", "cookie"), auth: map[string]string{"apiKey": apiKey}, wantErr: `metrics-api: method "cookie": must be one of header, query`},
		{name: "custom is not applied by KEDA's metrics-api", md: edit(validMetadata(), "authModes", "custom"), wantErr: `metrics-api: authModes "custom"`},
		{name: "oauth is not supported", md: edit(validMetadata(), "authModes", "oauth"), wantErr: `metrics-api: authModes "oauth"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(apiTrigger(tc.md, tc.auth))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ParseConfig = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("ParseConfig = %v, want an error starting %q", err, tc.wantErr)
			case err == nil && tc.check != nil:
				tc.check(t, c)
			}
			if err == nil && (strings.Contains(c.String(), apiKey) || strings.Contains(c.GoString(), "p4ssw0rd")) {
				t.Errorf("String shows a credential: %s", c)
			}
		})
	}
}

// TestSpec: KEDA's metric name s<i>-metric-api-<valueLocation>, normalised.
func TestSpec(t *testing.T) {
	c, err := ParseConfig(apiTrigger(edit(validMetadata(), "valueLocation", "data.items.0.count", "activationTargetValue", "2"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Spec(1); got.MetricName != "s1-metric-api-data-items-0-count" || got.Target != 5 || got.Activation != 2 {
		t.Fatalf("Spec = %+v", got)
	}
}
