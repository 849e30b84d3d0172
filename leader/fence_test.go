package leader

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFence(t *testing.T) {
	var leading atomic.Bool
	var sent atomic.Int32
	next := roundTrip(func(*http.Request) (*http.Response, error) {
		sent.Add(1)
		return &http.Response{StatusCode: http.StatusOK, Body: io.NopCloser(strings.NewReader(""))}, nil
	})
	refused := prometheus.NewCounter(prometheus.CounterOpts{Name: "refused"})
	rt := Fence(leading.Load, refused)(next)

	for _, tc := range []struct {
		name    string
		method  string
		leading bool
		refused bool
	}{
		{name: "standby reads", method: http.MethodGet},
		{name: "standby HEAD", method: http.MethodHead},
		{name: "standby creates", method: http.MethodPost, refused: true},
		{name: "standby updates", method: http.MethodPut, refused: true},
		{name: "standby patches", method: http.MethodPatch, refused: true},
		{name: "standby deletes", method: http.MethodDelete, refused: true},
		{name: "leader reads", method: http.MethodGet, leading: true},
		{name: "leader patches", method: http.MethodPatch, leading: true},
		{name: "leader creates", method: http.MethodPost, leading: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leading.Store(tc.leading)
			before, refusedBefore := sent.Load(), testutil.ToFloat64(refused)
			body := &closeRecorder{Reader: strings.NewReader("{}")}
			req, _ := http.NewRequest(tc.method, "https://apiserver/apis/apps/v1/namespaces/a/deployments/b/scale", body)
			resp, err := rt.RoundTrip(req)
			if tc.refused {
				if !errors.Is(err, ErrNotLeader) {
					t.Fatalf("err %v, want ErrNotLeader", err)
				}
				if sent.Load() != before {
					t.Fatal("a refused request was sent")
				}
				if !body.closed {
					t.Fatal("the refused request's body was not closed")
				}
				if got := testutil.ToFloat64(refused) - refusedBefore; got != 1 {
					t.Fatalf("refused counted %v times, want 1", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if sent.Load() != before+1 {
				t.Fatal("the request was not sent")
			}
		})
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }
