package metricsapi

import (
	"testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

// FuzzParseConfig: no metadata or TriggerAuthentication value makes the
// parser panic or show a credential.
func FuzzParseConfig(f *testing.F) {
	base := apiTrigger(edit(validMetadata(), "authMode", "apiKey"), map[string]string{"apiKey": apiKey})
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"format", "method", "keyParamName", "authModes", "timeout")
}

// FuzzValue: no answer from a hostile endpoint, in any format, makes the
// reader panic.
func FuzzValue(f *testing.F) {
	f.Add("json", "a.b", []byte(`{"a":{"b":"3k"}}`))
	f.Add("yaml", "a.0", []byte("a: [1]\n"))
	f.Add("prometheus", `m{l="v"}`, []byte("m{l=\"v\"} 1\n"))
	f.Fuzz(func(t *testing.T, format, loc string, body []byte) {
		c, err := ParseConfig(apiTrigger(edit(validMetadata(), "format", format, "valueLocation", loc), nil))
		if err != nil {
			return
		}
		_, _ = c.value(body)
	})
}
