package prometheus

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/httpclient"
)

// maxAnswer bounds a query API answer: one series is a few hundred bytes;
// the server is the tenant's to name.
const maxAnswer = 1 << 20

// Source serves prometheus triggers. It is safe for concurrent use.
type Source struct {
	*sources.Broker[Config, *server, *query]
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

// binding shares one server (client, credentials, custom headers) among
// the triggers that name the same, and one read among those that run the
// same query there.
func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[*server, *query] {
	// The whole address (its user information and query included), the
	// credentials and the headers, which may hold keys, are hashed.
	secret := c.auth.Secret() + "\x00" + fmt.Sprint(c.headers) + "\x00" + c.ServerAddress.String()
	id := fmt.Sprintf("%s auth=%s:%s unsafeSsl=%t timeout=%s", httpclient.Safe(c.ServerAddress), c.auth, s.Hash(secret), c.UnsafeSSL, c.Timeout)
	return sources.Binding[*server, *query]{
		Endpoint:    id,
		NewEndpoint: func() (*server, error) { return newServer(s, id, c) },
		Resource:    fmt.Sprintf("query %q namespace %q params %v ignoreNullValues=%t", c.Query, c.Namespace, c.QueryParameters, c.IgnoreNullValues),
		NewResource: func(ep *server, _ sources.ResourceID) *query { return &query{s: s, srv: ep, c: c} },
	}
}

// server is one Prometheus server as one set of credentials reaches it.
type server = httpclient.Polled[*query]

func newServer(s *Source, id string, c Config) (*server, error) {
	client, err := httpclient.NewClient(Type, c.Timeout, c.auth.TLS(c.UnsafeSSL))
	if err != nil {
		return nil, err
	}
	return httpclient.NewPolled[*query](s.Deps.Scheduler, id, client,
		"Prometheus has no push: the query is run every pollingInterval, as KEDA does"), nil
}

// query is one instant query on a server, shared by the triggers that run
// the same one.
type query struct {
	s   *Source
	srv *server
	c   Config
}

// Read runs the query now. Errors name the field to look at, never a
// credential.
func (q *query) Read(ctx context.Context) (float64, error) {
	c := q.c
	req, err := http.NewRequest(http.MethodGet, c.queryURL(q.s.Deps.Clock.Now()), nil)
	if err != nil {
		return 0, fmt.Errorf("prometheus: serverAddress: %w", err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	c.auth.Apply(req)
	body, err := httpclient.Get(ctx, q.srv.Client, req, maxAnswer)
	var status *httpclient.StatusError
	switch {
	case errors.As(err, &status) && status.Refused():
		return 0, fmt.Errorf("prometheus: serverAddress %s refused the credentials (authModes %s: %s): %w", httpclient.Safe(c.ServerAddress), c.auth, c.auth.Params(), err)
	case err != nil:
		return 0, fmt.Errorf("prometheus: serverAddress: %w", err)
	}
	v, err := value(body)
	switch {
	case errors.Is(err, errNoValue) && c.IgnoreNullValues:
		return 0, nil
	case errors.Is(err, errNoValue):
		return 0, fmt.Errorf("prometheus: query: %w (ignoreNullValues is false)", err)
	case err != nil:
		return 0, fmt.Errorf("prometheus: query: %s", strings.TrimSpace(err.Error()))
	}
	return v, nil
}
