package prometheus

import (
	"testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

// FuzzParseConfig: no metadata or TriggerAuthentication value makes the
// parser panic or show a credential.
func FuzzParseConfig(f *testing.F) {
	base := promTrigger(edit(validMetadata(), "authModes", "bearer"), map[string]string{"bearerToken": token})
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"customHeaders", "queryParameters", "timeout", "authModes", "username", "customAuthHeader")
}

// FuzzValue: no answer from a hostile server makes the reader panic.
func FuzzValue(f *testing.F) {
	f.Add([]byte(`{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2"]}]}}`))
	f.Add([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,null]}}`))
	f.Add([]byte(`{"status":"error","errorType":"x","error":"y"}`))
	f.Fuzz(func(t *testing.T, body []byte) { _, _ = value(body) })
}
