package natsjetstream

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pushscale/pushscale/sources"
)

// The PushHealthy reasons this source reports.
const (
	ReasonSubscribed       = "Subscribed"
	ReasonSubscriptionLost = "SubscriptionLost"
	ReasonPermissionDenied = "PermissionDenied"
	ReasonNotSupported     = "NotSupported"
	ReasonDisabledByConfig = "DisabledByConfig"
)

// Defaults of Options.
const (
	DefaultTimeout = 5 * time.Second
	// maxMonitoringBody bounds a /jsz answer read from a monitoring
	// endpoint (the endpoint is the tenant's to name).
	maxMonitoringBody = 32 << 20
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// Timeout bounds connecting to a server and one monitoring request;
	// default 5 s.
	Timeout time.Duration
	// ReconnectWait is the first wait between failed connection attempts,
	// doubled up to 30 s, with jitter; default 500 ms.
	ReconnectWait time.Duration
}

func (o Options) withDefaults() Options {
	sources.Default(&o.Timeout, DefaultTimeout)
	sources.Default(&o.ReconnectWait, 500*time.Millisecond)
	return o
}

// endpoint is either a monitoring endpoint (polled, as KEDA reads it) or a
// client connection (pushed).
type endpoint interface {
	sources.Endpoint[*resource]
	read(ctx context.Context, r *resource) (float64, error)
}

// Source serves nats-jetstream triggers. It is safe for concurrent use.
type Source struct {
	*sources.Broker[Config, endpoint, *resource]
	opts Options
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family(opts Options) sources.Family {
	return sources.Family{Name: Type, Types: []string{Type}, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start.
func New(d sources.Deps, opts Options) *Source {
	s := &Source{opts: opts.withDefaults()}
	s.Broker = sources.NewBroker(Type, d, ParseConfig, s.binding)
	return s
}

// binding says what t reads: its consumer, through the JetStream API on a
// shared client connection, hinted by new messages on its stream, when the
// trigger has natsClientURL; otherwise through the monitoring endpoint
// every pollingInterval, as KEDA does.
func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[endpoint, *resource] {
	b := sources.Binding[endpoint, *resource]{
		NewResource: func(ep endpoint, id sources.ResourceID) *resource {
			return &resource{ep: ep, id: id, stream: c.Stream, consumer: c.Consumer, account: c.Account, accountID: c.AccountID}
		},
	}
	if c.Push() {
		b.Endpoint = "nats://" + c.ClientURL + " auth=" + c.creds.kind() + ":" + s.Hash(c.creds.token+"\x00"+c.creds.user+"\x00"+c.creds.password+"\x00"+c.creds.nkeySeed+"\x00"+c.creds.creds)
		b.NewEndpoint = func() (endpoint, error) { return newClient(s, b.Endpoint, c) }
		b.Resource = "consumer " + strconv.Quote(c.Stream) + " " + strconv.Quote(c.Consumer)
	} else {
		scheme := "http"
		if c.UseHTTPS {
			scheme = "https"
		}
		b.Endpoint = scheme + "://" + c.MonitoringEndpoint + "/jsz"
		b.NewEndpoint = func() (endpoint, error) { return newMonitor(s, b.Endpoint), nil }
		b.Resource = fmt.Sprintf("account %q %q consumer %q %q", c.Account, c.AccountID, c.Stream, c.Consumer)
	}
	return b
}

// A resource is one durable consumer's pending count, shared by the
// triggers that read the same one.
type resource struct {
	ep                 endpoint
	id                 sources.ResourceID
	stream, consumer   string
	account, accountID string
	// filters are the consumer's filter subjects at the last read (nil:
	// not read yet); a new message is additive only when it matches one.
	filters atomic.Pointer[[]string]
}

// Read is the resource's authoritative read.
func (r *resource) Read(ctx context.Context) (float64, error) { return r.ep.read(ctx, r) }
