package leader

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// campaign returns once this replica holds the Lease (nil) or when ctx is
// done (its error); client-go's elector then takes the held Lease over
// with its first attempt and renews and releases it.
//
// It exists for the takeover's timing. client-go's candidates read the
// Lease every retry period, jittered up to 2.2×, count the lease duration
// from the read that first saw the last renewal, and try again at their
// next jittered read: a crashed leader is replaced up to lease + 4.4 ×
// retry after its last renewal. Here the Lease is watched, so a renewal or
// a release is seen the moment it is written; the takeover is tried
// exactly when the lease, counted from that sight, expires, and at once
// after a release. The Lease is also read every retry period, in case the
// watch lags or breaks: a crash is followed by a takeover within lease +
// retry period of the leader's last renewal at worst, and a graceful stop
// by one within the apiserver's round trips.
func (e *Elector) campaign(ctx context.Context) error {
	wake := make(chan struct{}, 1)
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go e.watchLease(watchCtx, wake)
	for {
		wait, acquired := e.tryAcquire(ctx)
		if acquired {
			return nil
		}
		timer := e.opts.Clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return ctx.Err()
		case <-wake:
		case <-timer.C():
		}
		timer.Stop()
	}
}

// tryAcquire reads the Lease and takes it when it is free, released or
// expired; otherwise it returns how long to wait before the next try: until
// the lease expires as this replica counts it, at most a retry period.
func (e *Elector) tryAcquire(ctx context.Context) (wait time.Duration, acquired bool) {
	retry := e.opts.RetryPeriod
	ctx, cancel := context.WithTimeout(ctx, e.opts.RenewDeadline)
	defer cancel()
	now := e.opts.Clock.Now()
	rec := resourcelock.LeaderElectionRecord{
		HolderIdentity:       e.opts.Identity,
		LeaseDurationSeconds: int(e.opts.LeaseDuration / time.Second),
		AcquireTime:          metav1.NewTime(now),
		RenewTime:            metav1.NewTime(now),
	}
	old, _, err := e.lock.Get(ctx)
	switch {
	case apierrors.IsNotFound(err):
		if err := e.lock.Create(ctx, rec); err != nil {
			e.campaignError("create", err)
			return retry, false
		}
		return 0, true
	case err != nil:
		e.campaignError("get", err)
		return retry, false
	}
	if o := e.lock.observed(); o.holder != "" && o.holder != e.opts.Identity {
		if left := o.at.Add(o.duration).Sub(e.opts.Clock.Now()); left > 0 {
			return min(left, retry), false
		}
	}
	rec.LeaderTransitions = old.LeaderTransitions + 1
	if err := e.lock.Update(ctx, rec); err != nil {
		if apierrors.IsConflict(err) {
			// Someone wrote the Lease since it was read: read it again now.
			return 0, false
		}
		e.campaignError("update", err)
		return retry, false
	}
	return 0, true
}

// watchLease signals wake at every change of the Lease (its holder renewing
// or releasing it) until ctx is done, watching again a retry period after
// the watch ends.
func (e *Elector) watchLease(ctx context.Context, wake chan<- struct{}) {
	leases := e.opts.Client.CoordinationV1().Leases(e.opts.Namespace)
	warned := false
	for ctx.Err() == nil {
		w, err := leases.Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + e.opts.Name})
		if err != nil && !warned && ctx.Err() == nil {
			// Reads every retry period still take over, later: say why once.
			e.opts.Logger.Warn("cannot watch the leader lease (RBAC needs watch on it); a takeover waits for the next read",
				"lease", e.lock.Describe(), "error", err)
			warned = true
		}
		if err == nil {
			for range w.ResultChan() {
				select {
				case wake <- struct{}{}:
				default:
				}
			}
			w.Stop()
		}
		t := e.opts.Clock.NewTimer(e.opts.RetryPeriod)
		select {
		case <-ctx.Done():
		case <-t.C():
		}
		t.Stop()
	}
}

// releaseIfHeld releases the Lease if this replica still holds it, as
// client-go does on a graceful stop (no holder, a lease of one second).
func (e *Elector) releaseIfHeld() {
	ctx, cancel := context.WithTimeout(context.Background(), e.opts.RenewDeadline)
	defer cancel()
	old, _, err := e.lock.Get(ctx)
	if err != nil || old.HolderIdentity != e.opts.Identity {
		return
	}
	now := metav1.NewTime(e.opts.Clock.Now())
	rec := resourcelock.LeaderElectionRecord{LeaderTransitions: old.LeaderTransitions, LeaseDurationSeconds: 1, AcquireTime: now, RenewTime: now}
	if err := e.lock.Update(ctx, rec); err != nil {
		e.campaignError("release", err)
	}
}

func (e *Elector) campaignError(op string, err error) {
	e.opts.Logger.Debug("leader lease "+op+" failed; trying again", "lease", e.lock.Describe(), "error", err)
}
