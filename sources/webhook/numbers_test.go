package webhook

import (
	"strings"
	"testing"
)

// TestNumbersBounded is issue 10 item 6: a value the metrics API cannot
// serve in milli-units (1e306 became +Inf, served as 0 while the activator
// saw the target active) is refused naming the field; deltas saturate at
// MaxValue; targets outside what the HPA can hold are refused naming the
// field.
func TestNumbersBounded(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s", "allowUnauthenticated": "true"}, nil))
	for body, want := range map[string]string{
		`{"value":1e306}`:  `"value" 1e306: must be at most 1e+15`,
		`{"delta":-1e300}`: `"delta" -1e300: must be between -1e+15 and 1e+15`,
	} {
		rr := e.postJSON("ns", "s", body)
		if rr.Code != 400 || !strings.Contains(errorBody(t, rr), want) {
			t.Errorf("%s: %d %s, want 400 with %q", body, rr.Code, rr.Body, want)
		}
	}
	for _, body := range []string{`{"value":1e15}`, `{"delta":1e15}`, `{"delta":1e15}`} {
		if rr := e.postJSON("ns", "s", body); rr.Code != 202 {
			t.Fatalf("%s: %d %s", body, rr.Code, rr.Body)
		}
	}
	if v, _ := e.sink.Value(keyA); v != MaxValue {
		t.Errorf("level after deltas past the bound: %g, want it saturated at %g", v, float64(MaxValue))
	}

	for md, want := range map[[2]string]string{
		{"targetValue", "1e306"}:           `targetValue "1e306": must be a number from 0.001 to 1e+15`,
		{"targetValue", "1e-9"}:            `targetValue "1e-9": must be a number from 0.001 to 1e+15`,
		{"activationTargetValue", "1e300"}: `activationTargetValue "1e300": must be a number from 0 to 1e+15`,
	} {
		_, err := ParseConfig(trig(keyA, map[string]string{"stream": "s", md[0]: md[1]}, nil))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s %s: %v, want an error with %q", md[0], md[1], err, want)
		}
	}
}
