package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/httpclient"
)

// maxAnswer bounds an answer: the endpoint is the tenant's to name.
const maxAnswer = 4 << 20

// Source serves metrics-api triggers. It is safe for concurrent use.
type Source struct {
	*sources.Broker[Config, *api, *endpointValue]
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family() sources.Family {
	return sources.Family{Name: Type, Types: []string{Type}, New: func(d sources.Deps) sources.Source { return New(d) }}
}

// New returns a source polling through d.Scheduler; nothing runs until
// Start.
func New(d sources.Deps) *Source {
	s := &Source{}
	s.Broker = sources.NewBroker(Type, d, ParseConfig, s.binding)
	return s
}

// api is one HTTP API as one set of credentials reaches it.
type api = httpclient.Polled[*endpointValue]

// binding shares one client among the triggers that reach the same host
// with the same credentials, and one request among those that read the
// same URL the same way.
func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[*api, *endpointValue] {
	// The URL's user information and query may hold keys: they are
	// hashed with the credentials.
	id := fmt.Sprintf("%s://%s auth=%s:%s unsafeSsl=%t timeout=%s", c.URL.Scheme, c.URL.Host, c.auth, s.Hash(c.auth.Secret()+"\x00"+c.URL.User.String()), c.UnsafeSSL, c.Timeout)
	return sources.Binding[*api, *endpointValue]{
		Endpoint: id,
		NewEndpoint: func() (*api, error) {
			client, err := httpclient.NewClient(Type, c.Timeout, c.auth.TLS(c.UnsafeSSL))
			if err != nil {
				return nil, err
			}
			return httpclient.NewPolled[*endpointValue](s.Deps.Scheduler, id, client,
				"a metrics API has no push: url is read every pollingInterval, as KEDA does"), nil
		},
		Resource:    fmt.Sprintf("GET %s query:%s format %s valueLocation %q", httpclient.Safe(c.URL), s.Hash(c.URL.RawQuery), c.Format, c.ValueLocation),
		NewResource: func(ep *api, _ sources.ResourceID) *endpointValue { return &endpointValue{api: ep, c: c} },
	}
}

// endpointValue is one value read from one URL.
type endpointValue struct {
	api *api
	c   Config
}

// Read gets the URL and reads the value. Errors name the field to look at,
// never a credential or the URL's query.
func (r *endpointValue) Read(ctx context.Context) (float64, error) {
	c := r.c
	req, err := http.NewRequest(http.MethodGet, c.URL.String(), nil)
	if err != nil {
		return 0, fmt.Errorf("metrics-api: url %s: %w", httpclient.Safe(c.URL), err)
	}
	c.auth.Apply(req)
	body, err := httpclient.Get(ctx, r.api.Client, req, maxAnswer)
	var status *httpclient.StatusError
	switch {
	case errors.As(err, &status) && status.Refused():
		return 0, fmt.Errorf("metrics-api: url %s refused the credentials (authModes %s: %s): %w", httpclient.Safe(c.URL), c.auth, c.auth.Params(), err)
	case err != nil:
		return 0, fmt.Errorf("metrics-api: url: %w", err)
	}
	v, err := c.value(body)
	if err != nil {
		return 0, fmt.Errorf("metrics-api: %w", err)
	}
	return v, nil
}
