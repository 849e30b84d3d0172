package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHealthRouterProfiling(t *testing.T) {
	ready := func() string { return "" }
	for _, tc := range []struct {
		name      string
		profiling bool
		path      string
		want      int
	}{
		{"off: no heap profile", false, "/debug/pprof/heap", http.StatusNotFound},
		{"off: no index", false, "/debug/pprof/", http.StatusNotFound},
		{"on: heap profile after a collection", true, "/debug/pprof/heap?gc=1", http.StatusOK},
		{"on: goroutines", true, "/debug/pprof/goroutine", http.StatusOK},
		{"on: index", true, "/debug/pprof/", http.StatusOK},
		{"on: unknown profile", true, "/debug/pprof/nosuch", http.StatusNotFound},
		{"on: metrics still served", true, "/metrics", http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := healthRouter(prometheus.NewRegistry(), ready, nil, tc.profiling)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("GET %s: %d, want %d\n%s", tc.path, rec.Code, tc.want, rec.Body)
			}
		})
	}
}
