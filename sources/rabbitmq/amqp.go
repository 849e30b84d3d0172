package rabbitmq

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
	"github.com/pushscale/pushscale/store"
)

// conn is an endpoint of protocol amqp: one AMQP connection per host,
// vhost and credential, shared by every trigger on it. Reads open a
// channel each (a passive declare of a missing queue closes its channel,
// so it never breaks another trigger's read); the push path keeps one
// channel per shadow queue (push.go).
type conn struct {
	s       *Source
	id      string
	uri     amqp.URI // holds the password: never printed
	tls     *tls.Config
	sasl    []amqp.Authentication
	api     *mgmtClient // the bindings of queues without shadowBindings
	pushOff bool
	poke    sources.Wake

	ready chan struct{} // closed once the first connection attempt ended
	tried sync.Once

	mu        sync.Mutex
	amqp      *amqp.Connection // nil while not connected
	connErr   error            // why not connected
	closed    bool
	resources map[*resource]bool
	rebind    map[*resource]bool // read while idle: bindings checked again
}

func newAMQP(s *Source, id string, c Config) (*conn, error) {
	e := &conn{
		s: s, id: id, uri: c.amqpURI(),
		pushOff: s.Deps.PushDisabled(Type), poke: sources.NewWake(),
		ready:     make(chan struct{}),
		resources: make(map[*resource]bool),
		rebind:    make(map[*resource]bool),
		connErr:   errors.New("rabbitmq: not connected yet"),
	}
	if c.TLS || c.UnsafeSSL {
		cfg, err := clienttls.Config(Type, c.tlsParams())
		if err != nil {
			return nil, err
		}
		e.tls = cfg
		if u, err := url.Parse(c.host); err == nil && u.User == nil && c.username == "" && c.tls.Cert != "" {
			// A client certificate and no credentials: SASL EXTERNAL, as KEDA.
			e.sasl = []amqp.Authentication{&amqp.ExternalAuth{}}
		}
	}
	api, err := newMgmtClient(s, c)
	if err != nil {
		return nil, err
	}
	e.api = api
	return e, nil
}

// Add tells the push path of a new resource.
func (e *conn) Add(r *resource) {
	e.mu.Lock()
	e.resources[r] = true
	e.mu.Unlock()
	e.poke.Wake()
}

// Remove tells the push path that r is gone.
func (e *conn) Remove(r *resource) {
	e.mu.Lock()
	delete(e.resources, r)
	delete(e.rebind, r)
	e.mu.Unlock()
	e.poke.Wake()
}

// readDone asks the push path to look at r again: it may have gone idle
// (consume its shadow queue) or active (stop); a read while idle also has
// the queue's bindings checked again.
func (e *conn) readDone(r *resource) {
	if r.idle() {
		e.mu.Lock()
		e.rebind[r] = true
		e.mu.Unlock()
	}
	e.poke.Wake()
}

// Close closes the connection; reads in flight fail.
func (e *conn) Close() {
	e.mu.Lock()
	e.closed = true
	c := e.amqp
	e.amqp = nil
	e.connErr = errors.New("rabbitmq: source stopped")
	e.mu.Unlock()
	e.tried.Do(func() { close(e.ready) })
	if c != nil {
		_ = c.Close()
	}
	e.api.client.CloseIdleConnections()
}

// Run connects (again, with backoff, while the broker refuses or cannot be
// reached) and runs the push path on each connection until it is lost or
// ctx is done. Every (re)connect is followed by Scheduler.Reconnected.
func (e *conn) Run(ctx context.Context) {
	var last store.Push
	for attempt := 0; ; attempt++ {
		c, err := e.dial()
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			if c != nil {
				_ = c.Close()
			}
			return
		}
		e.amqp, e.connErr = c, err
		e.mu.Unlock()
		e.tried.Do(func() { close(e.ready) })
		if err == nil {
			attempt, last = 0, store.Push{}
			e.serve(ctx, c)
			if ctx.Err() != nil {
				return
			}
			continue
		}
		reason := v1alpha1.ReasonSubscriptionLost
		if errors.Is(err, errRefused) {
			reason = v1alpha1.ReasonPermissionDenied
		}
		if p := (store.Push{Reason: reason, Message: err.Error() + "; reconnecting, " + e.s.pollMessage() + " meanwhile"}); p != last {
			e.s.Deps.Scheduler.SetPush(e.id, "", p)
			last = p
		}
		if !sources.Backoff(ctx, e.s.Deps.Clock, e.s.opts.ReconnectWait, attempt) {
			return
		}
	}
}

// errRefused marks an error of refused credentials.
var errRefused = errors.New("refused")

// dial opens one connection. Errors name the host and the vhost, never a
// credential.
func (e *conn) dial() (*amqp.Connection, error) {
	cfg := amqp.Config{
		SASL:            e.sasl,
		Vhost:           e.uri.Vhost,
		TLSClientConfig: e.tls,
		Heartbeat:       10 * time.Second,
		Properties:      amqp.Table{"connection_name": "pushscale"},
		Dial:            amqp.DefaultDial(e.s.opts.Timeout),
	}
	c, err := amqp.DialConfig(e.uri.String(), cfg)
	if err == nil {
		return c, nil
	}
	host := hostPort(e.uri.Host, fmt.Sprint(e.uri.Port))
	var ae *amqp.Error
	switch {
	case errors.Is(err, amqp.ErrCredentials), errors.As(err, &ae) && ae.Code == amqp.AccessRefused:
		return nil, fmt.Errorf("rabbitmq: username and password (or the host's): %w by the broker at %s", errRefused, host)
	case errors.Is(err, amqp.ErrVhost), errors.As(err, &ae) && ae.Code == amqp.NotAllowed:
		return nil, fmt.Errorf("rabbitmq: vhostName %q: not found or not allowed at %s", e.uri.Vhost, host)
	}
	return nil, fmt.Errorf("rabbitmq: host %s: %w", host, scrub(err, e.uri.Password))
}

// current waits for the first connection attempt and returns the
// connection, or why there is none.
func (e *conn) current(ctx context.Context) (*amqp.Connection, error) {
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, fmt.Errorf("rabbitmq: waiting for the connection: %w", ctx.Err())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.amqp == nil || e.amqp.IsClosed() {
		return nil, e.connErr
	}
	return e.amqp, nil
}

// read is a passive queue.declare on a channel of its own: the queue's
// ready messages.
func (e *conn) read(ctx context.Context, r *resource) (float64, error) {
	c, err := e.current(ctx)
	if err != nil {
		return 0, err
	}
	type answer struct {
		q   amqp.Queue
		err error
	}
	done := make(chan answer, 1)
	go func() {
		ch, err := c.Channel()
		if err != nil {
			done <- answer{err: fmt.Errorf("rabbitmq: opening a channel: %w", err)}
			return
		}
		q, err := ch.QueueDeclarePassive(r.c.QueueName, false, false, false, false, nil)
		_ = ch.Close() // already closed by the broker after an error
		done <- answer{q: q, err: err}
	}()
	select {
	case <-ctx.Done():
		return 0, fmt.Errorf("rabbitmq: queueName %q: passive declare: %w", r.c.QueueName, ctx.Err())
	case a := <-done:
		if a.err != nil {
			return 0, queueError(r.c.QueueName, e.uri.Vhost, a.err)
		}
		return float64(a.q.Messages), nil
	}
}

// queueError explains an error of a queue's operation.
func queueError(queue, vhost string, err error) error {
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.NotFound:
			return fmt.Errorf("rabbitmq: queueName %q: not found in vhost %q", queue, vhost)
		case amqp.AccessRefused:
			return fmt.Errorf("rabbitmq: queueName %q: access refused to the user in vhost %q", queue, vhost)
		}
	}
	return fmt.Errorf("rabbitmq: queueName %q: %w", queue, err)
}
