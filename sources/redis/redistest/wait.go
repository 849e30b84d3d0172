package redistest

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// pollInterval is the pause between two checks of a poll.
const pollInterval = 25 * time.Millisecond

// poll calls check until it returns nil, errExited, or timeout has passed
// or ctx is done. The error names what was awaited and wraps the last
// error of check.
func poll(ctx context.Context, timeout time.Duration, what string, check func(ctx context.Context) error) error {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		if errors.Is(err, errExited) {
			return fmt.Errorf("redistest: waiting for %s: %w", what, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redistest: waiting for %s: gave up after %v (%v); last check: %w",
				what, time.Since(start).Round(time.Millisecond), ctx.Err(), err)
		case <-t.C:
		}
	}
}
