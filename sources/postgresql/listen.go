package postgresql

import (
	"context"

	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// endpoint is one server, database and credential: a read pool, and the
// LISTEN connection while some resource has a notifyChannel.
type endpoint struct {
	s      *Source
	id     string
	server string
	conf   *pgx.ConnConfig
	pool   *pgxpool.Pool
	wake   sources.Wake

	mu        sync.Mutex
	resources map[*resource]bool // watched; true once its health is reported
}

func newEndpoint(s *Source, id string, c Config) (*endpoint, error) {
	pool, err := newPool(s, c)
	if err != nil {
		return nil, err
	}
	conf := c.conn.Copy()
	conf.ConnectTimeout = s.opts.ConnectTimeout
	return &endpoint{s: s, id: id, server: c.Server, conf: conf, pool: pool, wake: sources.NewWake(),
		resources: make(map[*resource]bool)}, nil
}

// Add and Remove wake the LISTEN loop, which LISTENs and UNLISTENs.
func (e *endpoint) Add(r *resource) {
	e.mu.Lock()
	e.resources[r] = false
	e.mu.Unlock()
	e.wake.Wake()
}

func (e *endpoint) Remove(r *resource) {
	e.mu.Lock()
	delete(e.resources, r)
	e.mu.Unlock()
	e.wake.Wake()
}

// Close closes the read pool; reads in flight fail.
func (e *endpoint) Close() { e.pool.Close() }

// pushOff is the push health of a resource without LISTEN, and whether
// it has none.
func (e *endpoint) pushOff(r *resource) (store.Push, bool) {
	switch {
	case e.s.Deps.PushDisabled(Type):
		return store.Push{Reason: ReasonDisabledByConfig,
			Message: "--disable-push postgresql: the query is read every pollingInterval"}, true
	case r.channel == "":
		return store.Push{Reason: ReasonNotSupported,
			Message: "no notifyChannel: the query is read every pollingInterval, as KEDA does"}, true
	}
	return store.Push{}, false
}

// sync reports the health of resources new since the last call that have
// no push, and returns the channels to LISTEN to with their resources.
func (e *endpoint) sync() map[string][]*resource {
	e.mu.Lock()
	defer e.mu.Unlock()
	want := make(map[string][]*resource)
	for r, reported := range e.resources {
		if p, off := e.pushOff(r); off {
			if !reported {
				e.s.Deps.Scheduler.SetPush(e.id, r.id.Name, p)
				e.resources[r] = true
			}
			continue
		}
		want[r.channel] = append(want[r.channel], r)
	}
	return want
}

// Run is the endpoint's push path: while some resource has a channel, it
// keeps one connection LISTENing on every channel (connecting again with
// backoff after a failure or a lost connection), hints the resources of a
// channel on each notification, and, after every (re)connect, has every
// resource read (Scheduler.Reconnected).
func (e *endpoint) Run(ctx context.Context) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			closeConn(conn)
		}
	}()
	listening := make(map[string]bool)
	failures := 0
	for ctx.Err() == nil {
		want := e.sync()
		if len(want) == 0 {
			if conn != nil {
				closeConn(conn)
				conn, listening = nil, make(map[string]bool)
			}
			select {
			case <-ctx.Done():
			case <-e.wake:
			}
			continue
		}
		fresh := conn == nil
		err := e.listen(ctx, &conn, listening, want)
		if err == nil && fresh {
			e.s.Deps.Scheduler.Reconnected(e.id)
		}
		if err == nil {
			failures = 0
			err = e.wait(ctx, conn, listening, want)
		}
		if err == nil || ctx.Err() != nil {
			continue
		}
		e.s.Deps.Logger.Debug("postgresql: LISTEN connection lost", "endpoint", e.id, "err", err)
		if conn != nil {
			closeConn(conn)
			conn, listening = nil, make(map[string]bool)
			// The server may have dropped the read pool's connections too.
			e.pool.Reset()
		}
		e.report(want, store.Push{Reason: ReasonSubscriptionLost,
			Message: err.Error() + "; the query is read every pollingInterval meanwhile"})
		if !sources.Backoff(ctx, e.s.Deps.Clock, e.s.opts.ReconnectWait, failures) {
			return
		}
		failures++
	}
}

// listen connects when *conn is nil and brings the LISTENs in line with
// want; a channel newly LISTENed to reports Subscribed for its resources
// and has them read (what was notified before it is not missed).
func (e *endpoint) listen(ctx context.Context, conn **pgx.Conn, listening map[string]bool, want map[string][]*resource) error {
	fresh := *conn == nil
	if fresh {
		c, err := pgx.ConnectConfig(ctx, e.conf)
		if err != nil {
			return fmt.Errorf("postgresql: LISTEN connection to %s: %w", e.server, explain(err))
		}
		*conn = c
	}
	for ch := range listening {
		if _, ok := want[ch]; !ok {
			if _, err := (*conn).Exec(ctx, "UNLISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
				return fmt.Errorf("postgresql: UNLISTEN on %s: %w", e.server, err)
			}
			delete(listening, ch)
		}
	}
	subscribed := store.Push{Healthy: true, Reason: ReasonSubscribed,
		Message: "LISTENing on notifyChannel: a NOTIFY runs the query at once"}
	for ch, rs := range want {
		if !listening[ch] {
			if _, err := (*conn).Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
				return fmt.Errorf("postgresql: LISTEN on %s: %w", e.server, err)
			}
			listening[ch] = true
			if !fresh {
				for _, r := range rs {
					e.s.Deps.Scheduler.Hint(r.id, false)
				}
			}
		}
		// Reported each time: a resource may have joined a channel
		// already LISTENed to; the store drops repeats.
		e.report(map[string][]*resource{ch: rs}, subscribed)
	}
	return nil
}

// wait delivers notifications as hints until the endpoint is woken
// (nil), ctx ends (nil) or the connection fails (its error).
func (e *endpoint) wait(ctx context.Context, conn *pgx.Conn, listening map[string]bool, want map[string][]*resource) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-e.wake:
			cancel()
		case <-stop:
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	for {
		n, err := conn.WaitForNotification(wctx)
		if err != nil {
			if wctx.Err() != nil && !conn.IsClosed() {
				return nil
			}
			return fmt.Errorf("postgresql: LISTEN connection to %s: %w", e.server, err)
		}
		for _, r := range want[n.Channel] {
			e.s.Deps.Scheduler.Hint(r.id, false)
		}
	}
}

// report sets the push health of the resources of want.
func (e *endpoint) report(want map[string][]*resource, p store.Push) {
	for _, rs := range want {
		for _, r := range rs {
			e.s.Deps.Scheduler.SetPush(e.id, r.id.Name, p)
		}
	}
}

// closeConn closes a LISTEN connection, without waiting on a dead peer
// for long.
func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = c.Close(ctx)
}
