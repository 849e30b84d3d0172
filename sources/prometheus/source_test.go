package prometheus

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/prometheus/promtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

func TestConformance(t *testing.T) {
	api := &promtest.API{Bearer: token}
	srv := sourcetest.StartHTTP(t, api)
	tr := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "authModes", "bearer"), map[string]string{"bearerToken": token})
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d) }, tr)
}

// run watches tr on a new source and runs it until the test ends.
func run(t *testing.T, tr sources.Trigger) *sourcetest.Sink {
	t.Helper()
	return sourcetest.Watch(t, func(d sources.Deps) sources.Source { return New(d) }, tr)
}

// TestReadsWithBearer: the query reaches the server with the token, the
// namespace and the query parameters; the sample is recorded; the trigger
// says it is polled.
func TestReadsWithBearer(t *testing.T) {
	api := &promtest.API{Bearer: token}
	api.Set(42)
	srv := sourcetest.StartHTTP(t, api)
	tr := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "authModes", "bearer", "namespace", "team-a", "queryParameters", "dedup=false"),
		map[string]string{"bearerToken": token})
	sink := run(t, tr)
	k := tr.Key
	sink.AwaitValue(t, k, 42)
	if p := sink.AwaitPush(t, k, "NotSupported"); p.Healthy {
		t.Fatalf("push %+v", p)
	}
	q := api.Queries()[0]
	if q.Get("query") != validMetadata()["query"] || q.Get("namespace") != "team-a" || q.Get("dedup") != "false" || q.Get("time") == "" {
		t.Fatalf("query parameters %v", q)
	}
}

// TestBasicAuthAndCustomHeaders: basic credentials and custom headers are
// sent.
func TestBasicAuthAndCustomHeaders(t *testing.T) {
	api := &promtest.API{User: "reader", Password: "p4ssw0rd-x"}
	api.Set(3)
	var tenant string
	srv := sourcetest.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant = r.Header.Get("X-Scope-OrgID")
		api.ServeHTTP(w, r)
	}))
	tr := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "customHeaders", "X-Scope-OrgID=tenant1"),
		map[string]string{"authModes": "basic", "username": "reader", "password": "p4ssw0rd-x"})
	sink := run(t, tr)
	sink.AwaitValue(t, tr.Key, 3)
	if tenant != "tenant1" {
		t.Fatalf("X-Scope-OrgID %q", tenant)
	}
}

// TestRefusedCredentials: a 401 fails the trigger naming the
// TriggerAuthentication parameter, not its value.
func TestRefusedCredentials(t *testing.T) {
	api := &promtest.API{Bearer: "the-right-t0ken"}
	srv := sourcetest.StartHTTP(t, api)
	tr := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "authModes", "bearer"), map[string]string{"bearerToken": token})
	sink := run(t, tr)
	failed := sink.AwaitFail(t, "401")
	if !strings.Contains(failed, "refused the credentials (authModes bearer: bearerToken)") || !strings.Contains(failed, "401") {
		t.Errorf("error %q does not say which credentials were refused", failed)
	}
	if strings.Contains(failed, token) {
		t.Errorf("error shows the token: %s", failed)
	}
}

// TestNullValues: an empty result is 0 with ignoreNullValues (KEDA's
// default) and an error without.
func TestNullValues(t *testing.T) {
	api := &promtest.API{}
	srv := sourcetest.StartHTTP(t, api)
	ignore := promTrigger(edit(validMetadata(), "serverAddress", srv.URL()), nil)
	strict := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "ignoreNullValues", "false"), nil)
	strict.Key = store.Key{Owner: ignore.Key.Owner, Trigger: 1}
	sink := sourcetest.Watch(t, func(d sources.Deps) sources.Source { return New(d) }, ignore, strict)
	sink.AwaitValue(t, ignore.Key, 0)
	if msg := sink.AwaitFail(t, "ignoreNullValues is false"); !strings.Contains(msg, "the result is empty") {
		t.Errorf("error %q", msg)
	}
}

// TestHostileServer: an endless answer is cut at the bound, a server that
// never answers at the timeout.
func TestHostileServer(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		timeout string
		wantErr string
	}{
		{"endless answer", func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat(" ", 64<<10))
			for i := 0; i < 64; i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
			}
		}, "5s", "answer too large"},
		{"silent server", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}, "200", "Timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := sourcetest.StartHTTP(t, tc.handler)
			tr := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "timeout", tc.timeout), nil)
			run(t, tr).AwaitFail(t, tc.wantErr)
		})
	}
}

// TestTriggersShareOnlyWhatIsTheSame: two triggers with the same query
// share one request only when their server, credentials and headers are
// the same; each gets what its own credentials read.
func TestTriggersShareOnlyWhatIsTheSame(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := sourcetest.StartHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		mu.Lock()
		seen[auth]++
		mu.Unlock()
		v := "1"
		if auth == "Bearer tok-b" {
			v = "2"
		}
		_, _ = w.Write([]byte(`{"status":"success","data":{"resultType":"scalar","result":[1,"` + v + `"]}}`))
	}))
	a := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "authModes", "bearer"), map[string]string{"bearerToken": "tok-a"})
	b := promTrigger(edit(validMetadata(), "serverAddress", srv.URL(), "authModes", "bearer"), map[string]string{"bearerToken": "tok-b"})
	b.Key = store.Key{Owner: a.Key.Owner, Trigger: 1}
	sink := sourcetest.Watch(t, func(d sources.Deps) sources.Source { return New(d) }, a, b)
	sink.AwaitValue(t, a.Key, 1)
	sink.AwaitValue(t, b.Key, 2)
	mu.Lock()
	defer mu.Unlock()
	if seen["Bearer tok-a"] == 0 || seen["Bearer tok-b"] == 0 {
		t.Fatalf("requests by credential: %v", seen)
	}
}
