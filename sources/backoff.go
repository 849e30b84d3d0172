package sources

import (
	"context"
	"math/rand/v2"
	"time"

	"k8s.io/utils/clock"
)

// maxBackoff bounds the wait between two connection attempts.
const maxBackoff = 30 * time.Second

// Backoff waits on c before connection attempt n+1 of an endpoint's Run
// loop (n counts the failed attempts so far, from 0): first, doubled per
// attempt up to 30 s, ±20 % jitter. It returns false when ctx ended first.
func Backoff(ctx context.Context, c clock.Clock, first time.Duration, n int) bool {
	d := min(first<<min(n, 10), maxBackoff)
	return Sleep(ctx, c, time.Duration(float64(d)*(0.8+0.4*rand.Float64())))
}

// Sleep waits d on c; it returns false when ctx ended first.
func Sleep(ctx context.Context, c clock.Clock, d time.Duration) bool {
	t := c.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C():
		return true
	}
}
