package redis

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Server-assisted client tracking (CLIENT TRACKING, Redis 6 and later,
// Valkey) is the second push path, for nodes whose keyspace notifications
// do not cover a resource (turned off, CONFIG refused, or the keyspace
// channel refused by an ACL). It needs no configuration on the server.
//
// The node's read client turns tracking on for each of its connections as
// it connects, in the redirect mode: the server remembers every key a read
// on that connection touched, and when one changes it sends the key's name,
// once, to the node's subscription connection, which SUBSCRIBEs to
// invalidateChannel. The name is a hint for the resources reading that key;
// the read that follows registers the key again. A change between a read
// and the next one is never lost: either the key is registered (an
// invalidation follows) or a read is already due (the Scheduler reads again
// after a read in flight when a hint arrives meanwhile).
//
// The redirect mode is used on every server, though RESP3 could carry the
// invalidations on the read connection itself: go-redis handles RESP3 push
// frames of an idle connection only when the connection is next used, and
// its pool discards an idle connection with unread data, so an idle gateway
// would learn nothing. With the redirect mode the read connections receive
// nothing unsolicited.
//
// What loses registrations, and what is done about it:
//   - the subscription connection drops: a new session has a new client ID,
//     so the read client is replaced (connections redirecting to the new
//     ID) before the session subscribes, and the session's resync reads
//     every resource;
//   - a read connection drops: the client's next connection counts as a
//     loss (tracker.onConnect) and every resource tracked on the node is
//     read again; the read connection is PINGed every HealthCheckInterval
//     so that a connection the server closed is noticed while idle;
//   - FLUSHALL or FLUSHDB: Redis sends an invalidation without key names
//     (a null payload), and every tracked resource of the node is read;
//   - the server's table of tracked keys is full (tracking-table-max-keys):
//     Redis invalidates keys to make room, which costs reads, not changes;
//     the limit is read where CONFIG allows, and PushHealthy says when it
//     is below the keys tracked on the node.

// invalidateChannel is where Redis sends the invalidations of the
// redirect mode.
const invalidateChannel = "__redis__:invalidate"

// ReasonTracking is the PushHealthy reason of a trigger pushed through
// client tracking.
const ReasonTracking = "Tracking"

// tracker is the client tracking of one node's read client: each
// connection of that client turns tracking on, redirected to one
// subscription connection, when it connects. A new redirect means a new
// client (and a new tracker).
type tracker struct {
	e        *endpoint
	addr     string
	redirect int64 // the subscription connection's CLIENT ID
	connects atomic.Int64

	mu  sync.Mutex
	err error // the last connection's CLIENT TRACKING error reply
}

// onConnect is the read client's OnConnect: CLIENT TRACKING ON REDIRECT.
// An error reply (an old server, a renamed or denied command) leaves the
// connection usable for reads, and is reported through lastErr; every
// connection after the first may have replaced one whose keys the server
// forgot, so the node's tracked resources are read again.
func (t *tracker) onConnect(ctx context.Context, cn *redis.Conn) error {
	err := cn.Do(ctx, "CLIENT", "TRACKING", "ON", "REDIRECT", strconv.FormatInt(t.redirect, 10)).Err()
	if err != nil && !isReply(err) {
		return err // the connection fails; the pool dials again
	}
	t.mu.Lock()
	t.err = err
	t.mu.Unlock()
	if t.connects.Add(1) > 1 && err == nil {
		t.e.trackingLost(t.addr)
	}
	return nil
}

func (t *tracker) lastErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// track makes the read client of the node at addr turn tracking on,
// redirected to connection id, replacing the client (reads in flight on
// the old one are retried on the new one) unless it already does. It
// connects the client, and returns why tracking is not on.
func (e *endpoint) track(ctx context.Context, addr string, id int64) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return errEndpointClosed
	}
	var old *redis.Client
	t := e.trackers[addr]
	if t == nil || t.redirect != id {
		t = &tracker{e: e, addr: addr, redirect: id}
		e.trackers[addr] = t
		old = e.nodes[addr]
		e.nodes[addr] = redis.NewClient(e.options(addr, t))
	}
	c := e.nodes[addr]
	e.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if err := c.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("connect to %s: %w", addr, err)
	}
	if err := t.lastErr(); err != nil {
		return fmt.Errorf("CLIENT TRACKING refused by %s: %w", addr, err)
	}
	return nil
}

// trackingLost notes that the node at addr may have forgotten the keys
// it tracked for the endpoint; the loop reads its tracked resources again.
func (e *endpoint) trackingLost(addr string) {
	e.mu.Lock()
	e.lost[addr] = true
	e.mu.Unlock()
	e.poke.Wake()
}

// takeLost returns the nodes noted by trackingLost since the last call.
func (e *endpoint) takeLost() map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.lost) == 0 {
		return nil
	}
	l := e.lost
	e.lost = make(map[string]bool)
	return l
}

// onInvalidate turns an invalidation into hints for the resources of the
// keys it names that are pushed through tracking (the others learn the
// same change from their keyspace channel). It never blocks.
func (e *endpoint) onInvalidate(keys []string) {
	for _, k := range keys {
		e.mu.Lock()
		rs := e.channels[keyspaceChannel(e.db, k)]
		e.mu.Unlock()
		for _, r := range rs {
			if r.viaTracking.Load() {
				e.s.Deps.Scheduler.Hint(r.id, false)
			}
		}
	}
}

// onFlush hints every resource pushed through tracking: a node sends an
// invalidation without keys when a FLUSHALL or FLUSHDB drops them all.
func (e *endpoint) onFlush() {
	e.mu.Lock()
	var rs []*resource
	for _, r := range e.resources {
		if r.viaTracking.Load() {
			rs = append(rs, r)
		}
	}
	e.mu.Unlock()
	for _, r := range rs {
		e.s.Deps.Scheduler.Hint(r.id, false)
	}
}

// errFlushed is go-redis's error for a message whose payload is null,
// which on invalidateChannel means every key was invalidated.
const errFlushed = "redis: unsupported pubsub message payload: <nil>"
