package external

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// follow keeps the StreamIsActive of r open until ctx is done. Every
// message is a hint for r: true additive (the Scheduler's leading edge
// wakes a target at zero before the read that follows), false not (the
// read that follows finds the scaler inactive, and the cooldown runs from
// there). A lost stream is opened again after KEDA's backoff (2 s doubling
// to 1 min, back to 2 s after a healthy stream); meanwhile r is polled
// every pollingInterval (SubscriptionLost). Every stream opened is
// followed by a read, so what changed while it was down is seen.
func (e *endpoint) follow(ctx context.Context, r *resource) {
	failures := 0
	for {
		healthy, err := e.stream(ctx, r)
		if ctx.Err() != nil {
			return
		}
		if healthy {
			failures = 0
		}
		wait := e.s.opts.backoff(failures)
		failures++
		reason := ReasonSubscriptionLost
		if isUnimplemented(err) {
			reason = ReasonNotSupported
		}
		e.s.d.Scheduler.SetPush(e.id, r.id.Name, store.Push{Reason: reason,
			Message: fmt.Sprintf("%v; opening it again in %s, polled every pollingInterval meanwhile", err, wait)})
		if !sources.Sleep(ctx, e.s.d.Clock, wait) {
			return
		}
	}
}

// stream runs one StreamIsActive of r until it ends. healthy reports a
// stream that delivered a message or ended cleanly (io.EOF).
func (e *endpoint) stream(ctx context.Context, r *resource) (healthy bool, err error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Wait for a connection (WaitForReady), but not for ever: a scaler
	// that cannot be reached is reported and retried with the backoff.
	t := afterFunc(e.s.d.Clock, e.s.opts.OpenTimeout, cancel)
	st, err := e.client.StreamIsActive(sctx, ref(r.c), grpc.WaitForReady(true))
	if !t.Stop() && err == nil {
		err = sctx.Err()
	}
	if err != nil {
		if ctx.Err() == nil && sctx.Err() != nil {
			return false, fmt.Errorf("%s: StreamIsActive of scalerAddress %s: no connection within %s", r.c.Type, r.c.ScalerAddress, e.s.opts.OpenTimeout)
		}
		return false, rpcError(r.c, "StreamIsActive", err)
	}
	e.s.d.Scheduler.Hint(r.id, false) // what changed while no stream was open

	// Recv runs in a goroutine of its own, ended by cancel (deferred above)
	// and waited for, so that the stream can be called Subscribed once it
	// has lived for subscribedAfter: grpc opens a stream before the
	// scaler answers, and a scaler without StreamIsActive refuses it only
	// then.
	type recv struct {
		m   *pb.IsActiveResponse
		err error
	}
	msgs := make(chan recv)
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		for {
			m, err := st.Recv()
			select {
			case msgs <- recv{m, err}:
			case <-sctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	grace := e.s.d.Clock.NewTimer(subscribedAfter)
	defer grace.Stop()
	graceC := grace.C()
	subscribed := func() {
		if graceC != nil {
			graceC = nil
			e.s.d.Scheduler.SetPush(e.id, r.id.Name, store.Push{Healthy: true, Reason: ReasonSubscribed,
				Message: "the scaler streams its activity (StreamIsActive): true activates at once, false is read and honoured"})
		}
	}
	for {
		select {
		case <-sctx.Done():
			return healthy, sctx.Err()
		case <-graceC:
			subscribed()
		case got := <-msgs:
			if got.err != nil {
				if errors.Is(got.err, io.EOF) {
					return true, fmt.Errorf("%s: StreamIsActive of scalerAddress %s: ended by the scaler", r.c.Type, r.c.ScalerAddress)
				}
				return healthy, rpcError(r.c, "StreamIsActive", got.err)
			}
			subscribed()
			healthy = true
			e.s.d.Scheduler.Hint(r.id, got.m.GetResult())
		}
	}
}

// subscribedAfter is how long a stream lives, without a message, before
// it is reported Subscribed.
const subscribedAfter = time.Second
