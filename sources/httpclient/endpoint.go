package httpclient

import (
	"context"
	"net/http"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Polled is the sources.Endpoint of an HTTP API that pushes nothing: one
// client (credentials' TLS, timeout) shared by the resources read through
// it, every one of them polled by the Scheduler every pollingInterval and
// reported PushHealthy=False NotSupported.
type Polled[R sources.Resource] struct {
	// Client sends the resources' requests.
	Client *http.Client

	sched   sources.Schedule
	id, why string
}

var _ sources.Endpoint[sources.Resource] = (*Polled[sources.Resource])(nil)

// NewPolled returns the endpoint id of sched with client; why is the
// PushHealthy message ("Prometheus has no push: ...").
func NewPolled[R sources.Resource](sched sources.Schedule, id string, client *http.Client, why string) *Polled[R] {
	return &Polled[R]{Client: client, sched: sched, id: id, why: why}
}

// Run reports that nothing is pushed, then waits for ctx.
func (p *Polled[R]) Run(ctx context.Context) {
	p.sched.SetPush(p.id, "", store.Push{Reason: v1alpha1.ReasonNotSupported, Message: p.why})
	<-ctx.Done()
}

// Close closes idle connections.
func (p *Polled[R]) Close() { p.Client.CloseIdleConnections() }

// Add and Remove have nothing to do: the Scheduler polls.
func (p *Polled[R]) Add(R)    {}
func (p *Polled[R]) Remove(R) {}
