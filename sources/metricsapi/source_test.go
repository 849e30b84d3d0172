package metricsapi

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/metricsapi/metricsapitest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func TestConformance(t *testing.T) {
	api := &metricsapitest.API{APIKey: apiKey}
	srv := sourcetest.StartHTTP(t, api)
	tr := apiTrigger(edit(validMetadata(), "url", srv.URL()+"/stats", "authMode", "apiKey"), map[string]string{"apiKey": apiKey})
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d) }, tr)
}

// run watches tr on a new source and runs it until the test ends.
func run(t *testing.T, tr sources.Trigger) *sourcetest.Sink {
	t.Helper()
	return sourcetest.Watch(t, func(d sources.Deps) sources.Source { return New(d) }, tr)
}

// TestReadsWithAPIKey: the key is sent in KEDA's header, the value at the
// GJSON path recorded, and the trigger says it is polled.
func TestReadsWithAPIKey(t *testing.T) {
	api := &metricsapitest.API{APIKey: apiKey}
	api.Set(17)
	srv := sourcetest.StartHTTP(t, api)
	tr := apiTrigger(edit(validMetadata(), "url", srv.URL()+"/stats", "authMode", "apiKey"), map[string]string{"apiKey": apiKey})
	sink := run(t, tr)
	sink.AwaitValue(t, tr.Key, 17)
	if p := sink.AwaitPush(t, tr.Key, "NotSupported"); p.Healthy {
		t.Fatalf("push %+v", p)
	}
}

// TestAPIKeyInQuery: method query puts the key in keyParamName (default
// api_key), and errors never show the query.
func TestAPIKeyInQuery(t *testing.T) {
	tests := []struct{ name, param, want string }{{"default name", "", "api_key"}, {"keyParamName", "token", "token"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			srv := sourcetest.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r.URL.Query().Get(tc.want)
				if r.URL.Query().Get("keep") != "1" {
					w.WriteHeader(http.StatusBadRequest)
					return
				}
				w.WriteHeader(http.StatusForbidden)
			}))
			md := edit(validMetadata(), "url", srv.URL()+"/stats?keep=1", "authMode", "apiKey", "method", "query")
			auth := map[string]string{"apiKey": apiKey}
			if tc.param != "" {
				auth["keyParamName"] = tc.param
			}
			sink := run(t, apiTrigger(md, auth))
			msg := sink.AwaitFail(t, "refused the credentials (authModes apiKey: apiKey)")
			if got != apiKey {
				t.Errorf("query parameter %s = %q, want the key", tc.want, got)
			}
			if strings.Contains(msg, apiKey) || strings.Contains(msg, "keep=1") {
				t.Errorf("error shows the query: %s", msg)
			}
		})
	}
}

// TestBasicAndBearer: both are sent as KEDA sends them; a wrong password
// is refused naming the parameters, not their values.
func TestBasicAndBearer(t *testing.T) {
	api := &metricsapitest.API{User: "reader", Password: "p4ssw0rd-x"}
	api.Set(2)
	srv := sourcetest.StartHTTP(t, api)
	ok := apiTrigger(edit(validMetadata(), "url", srv.URL(), "authModes", "basic"), map[string]string{"username": "reader", "password": "p4ssw0rd-x"})
	run(t, ok).AwaitValue(t, ok.Key, 2)
	bad := apiTrigger(edit(validMetadata(), "url", srv.URL(), "authModes", "basic"), map[string]string{"username": "reader", "password": "wr0ng-passw0rd"})
	msg := run(t, bad).AwaitFail(t, "refused the credentials (authModes basic: username and password)")
	if strings.Contains(msg, "wr0ng") {
		t.Errorf("error shows the password: %s", msg)
	}

	bearer := &metricsapitest.API{Bearer: apiKey}
	bearer.Set(6)
	bsrv := sourcetest.StartHTTP(t, bearer)
	tr := apiTrigger(edit(validMetadata(), "url", bsrv.URL(), "authModes", "bearer"), map[string]string{"bearerToken": apiKey})
	run(t, tr).AwaitValue(t, tr.Key, 6)
}

// TestEndlessAnswer: an answer past the bound is an error, read no
// further.
func TestEndlessAnswer(t *testing.T) {
	srv := sourcetest.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := []byte(strings.Repeat("[", 64<<10))
		for i := 0; i < 128; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	run(t, apiTrigger(edit(validMetadata(), "url", srv.URL()), nil)).AwaitFail(t, "answer too large")
}
