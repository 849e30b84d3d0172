package natsjetstream

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/pushscale/pushscale/sources"
)

// client is one connection to a NATS deployment with one credential, shared
// by every trigger that names the same natsClientURL and credential. Reads
// ask the JetStream API for the consumer's info; the push path (Run, in
// push.go) keeps one ordered, headers-only, ephemeral consumer per watched
// stream whose deliveries are hints.
type client struct {
	s       *Source
	id      string
	url     string
	opts    []nats.Option
	pushOff bool
	poke    sources.Wake  // wakes Run
	ready   chan struct{} // closed once the first connection attempt ended
	tried   sync.Once

	mu        sync.Mutex
	resources map[string]*resource // by name
	nc        *nats.Conn           // nil until connected, and after Close
	js        jetstream.JetStream
	connErr   error // why there is no connection, for reads
	closed    bool
}

func newClient(s *Source, id string, c Config) (*client, error) {
	opts, err := c.creds.options()
	if err != nil {
		return nil, err
	}
	return &client{
		s:         s,
		id:        id,
		url:       c.ClientURL,
		opts:      opts,
		pushOff:   s.Deps.PushDisabled(Type),
		poke:      sources.NewWake(),
		ready:     make(chan struct{}),
		resources: make(map[string]*resource),
		connErr:   errors.New("nats-jetstream: not connected yet"),
	}, nil
}

// options are the nats.go options of the credential.
func (c credentials) options() ([]nats.Option, error) {
	switch {
	case c.token != "":
		return []nats.Option{nats.Token(c.token)}, nil
	case c.user != "":
		return []nats.Option{nats.UserInfo(c.user, c.password)}, nil
	case c.nkeySeed != "":
		kp, err := nkeys.FromSeed([]byte(c.nkeySeed))
		if err != nil {
			return nil, errors.New("nats-jetstream: clientNkeySeed (from TriggerAuthentication): not an nkey seed")
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, errors.New("nats-jetstream: clientNkeySeed (from TriggerAuthentication): not an nkey seed")
		}
		return []nats.Option{nats.Nkey(pub, kp.Sign)}, nil
	case c.creds != "":
		token, seed, err := c.jwtAndSeed()
		if err != nil {
			return nil, fmt.Errorf("nats-jetstream: clientCreds (from TriggerAuthentication): %w", err)
		}
		return []nats.Option{nats.UserJWTAndSeed(token, seed)}, nil
	}
	return nil, nil
}

// Add makes r's stream part of the push path.
func (e *client) Add(r *resource) {
	e.mu.Lock()
	e.resources[r.id.Name] = r
	e.mu.Unlock()
	e.poke.Wake()
}

// Remove drops r; its stream's consumer goes when no resource needs it.
func (e *client) Remove(r *resource) {
	e.mu.Lock()
	delete(e.resources, r.id.Name)
	e.mu.Unlock()
	e.poke.Wake()
}

// Close closes the connection; reads that follow fail.
func (e *client) Close() {
	e.mu.Lock()
	nc := e.nc
	e.nc, e.js, e.closed = nil, nil, true
	e.connErr = errors.New("nats-jetstream: connection closed")
	e.mu.Unlock()
	if nc != nil {
		nc.Close()
	}
}

// read asks the JetStream API for the consumer's info: num_pending +
// num_ack_pending, as KEDA counts them. It remembers the consumer's
// filter subjects, which say which new messages add to it.
func (e *client) read(ctx context.Context, r *resource) (float64, error) {
	select { // the first read waits for the first connection attempt
	case <-e.ready:
	case <-ctx.Done():
		return 0, fmt.Errorf("nats-jetstream: connecting to natsClientURL %s: %w", e.url, ctx.Err())
	}
	e.mu.Lock()
	js, connErr := e.js, e.connErr
	e.mu.Unlock()
	if js == nil {
		return 0, connErr
	}
	cons, err := js.Consumer(ctx, r.stream, r.consumer)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return 0, fmt.Errorf("nats-jetstream: stream %q not found", r.stream)
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		return 0, fmt.Errorf("nats-jetstream: consumer %q not found in stream %q", r.consumer, r.stream)
	case err != nil:
		return 0, fmt.Errorf("nats-jetstream: consumer %q of stream %q: %w", r.consumer, r.stream, err)
	}
	info := cons.CachedInfo()
	filters := info.Config.FilterSubjects
	if info.Config.FilterSubject != "" {
		filters = append([]string{info.Config.FilterSubject}, filters...)
	}
	if filters == nil {
		filters = []string{}
	}
	r.filters.Store(&filters)
	return float64(info.NumPending) + float64(info.NumAckPending), nil
}

// streams returns the resources by stream.
func (e *client) streams() map[string][]*resource {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string][]*resource)
	for _, r := range e.resources {
		out[r.stream] = append(out[r.stream], r)
	}
	return out
}

// streamResources returns the resources on stream, for a delivery's hints:
// the event path touches only its own stream's resources.
func (e *client) streamResources(stream string) []*resource {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*resource
	for _, r := range e.resources {
		if r.stream == stream {
			out = append(out, r)
		}
	}
	return out
}

// additive reports whether a new message on subject adds to r's pending
// count: r's filters (from its last read) match it. Before a read it is
// unknown, and not additive.
func (r *resource) additive(subject string) bool {
	f := r.filters.Load()
	if f == nil {
		return false
	}
	if len(*f) == 0 {
		return true
	}
	for _, filter := range *f {
		if subjectMatches(filter, subject) {
			return true
		}
	}
	return false
}

var _ sources.Endpoint[*resource] = (*client)(nil)
