package leader

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// ErrNotLeader is the error of a request Fence refused.
var ErrNotLeader = errors.New("not the leader: only the leader writes to the apiserver")

// Fence returns a rest.Config WrapTransport that refuses every request
// other than GET, HEAD and OPTIONS while leading() is false: the request
// is never sent, the caller gets an error wrapping ErrNotLeader, and
// refused (when not nil) counts it. Reads always pass: standbys keep
// their informers synced. The client that campaigns for the Lease must
// not be fenced.
func Fence(leading func() bool, refused prometheus.Counter) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return fence{next: rt, leading: leading, refused: refused}
	}
}

type fence struct {
	next    http.RoundTripper
	leading func() bool
	refused prometheus.Counter
}

func (f fence) RoundTrip(req *http.Request) (*http.Response, error) {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
	default:
		if !f.leading() {
			if req.Body != nil {
				_ = req.Body.Close() // a RoundTripper closes the body, even on error
			}
			if f.refused != nil {
				f.refused.Inc()
			}
			return nil, fmt.Errorf("%w: %s %s refused", ErrNotLeader, req.Method, req.URL.Path)
		}
	}
	return f.next.RoundTrip(req)
}
