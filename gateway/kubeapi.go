package gateway

import (
	"net/http"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// kubeRequests counts the gateway's apiserver requests by verb and
// resource (pushscale_kube_api_requests_total), so the cost of
// reconciles can be seen and tested. Labels are bounded: the verb set and
// the resources the gateway uses; names and namespaces are left out.
type kubeRequests struct {
	total *prometheus.CounterVec
}

func newKubeRequests(reg prometheus.Registerer) *kubeRequests {
	k := &kubeRequests{total: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pushscale_kube_api_requests_total",
		Help: "Requests the gateway sent to the Kubernetes apiserver, by verb (get, list, watch, create, update, patch, delete) and resource (with subresource, e.g. deployments/scale).",
	}, []string{"verb", "resource"})}
	reg.MustRegister(k.total)
	return k
}

// wrap is a rest.Config WrapTransport.
func (k *kubeRequests) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		verb, resource := requestInfo(req)
		k.total.WithLabelValues(verb, resource).Inc()
		return rt.RoundTrip(req)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

// requestInfo names a request's verb and resource as the apiserver would
// (a GET without a name lists; watch=true watches). Paths that are not
// resources (discovery, /version) are resource "other".
func requestInfo(req *http.Request) (verb, resource string) {
	segs := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	switch {
	case len(segs) >= 2 && segs[0] == "api":
		segs = segs[2:]
	case len(segs) >= 3 && segs[0] == "apis":
		segs = segs[3:]
	default:
		segs = nil
	}
	if len(segs) >= 3 && segs[0] == "namespaces" {
		segs = segs[2:]
	}
	named := len(segs) >= 2
	switch {
	case len(segs) == 0:
		resource = "other"
	case len(segs) >= 3:
		resource = segs[0] + "/" + segs[2]
	default:
		resource = segs[0]
	}
	switch req.Method {
	case http.MethodGet:
		switch {
		case req.URL.Query().Get("watch") == "true" || req.URL.Query().Get("watch") == "1":
			verb = "watch"
		case named:
			verb = "get"
		default:
			verb = "list"
		}
	case http.MethodPost:
		verb = "create"
	case http.MethodPut:
		verb = "update"
	case http.MethodPatch:
		verb = "patch"
	case http.MethodDelete:
		verb = "delete"
		if !named {
			verb = "deletecollection"
		}
	default:
		verb = strings.ToLower(req.Method)
	}
	return verb, resource
}
