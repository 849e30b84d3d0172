package sources_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// TestSchedulerReportActive: a read that decides its activity (value 0,
// active) makes the resource active (polled every pollingInterval, not
// left to the repair sweep) and reaches the sink with RecordActive; a read
// that reports nothing is back to value > threshold.
func TestSchedulerReportActive(t *testing.T) {
	const polling, repair = 10 * time.Second, 10 * time.Minute
	h := newHarness(t, sources.SchedulerOptions{RepairInterval: repair})
	h.s.SetPush("ep", "", healthy)
	var report atomic.Bool
	report.Store(true)
	rd := newReader(0)
	read := func(ctx context.Context) (float64, error) {
		if report.Load() {
			sources.ReportActive(ctx, true)
		}
		return rd.read(ctx)
	}
	id := rid("ep", "queue:jobs")
	h.s.Attach(id, read, att(key(0), 0, polling))
	h.start()
	rd.awaitCalls(t, 1)
	h.settle()
	c, ok := h.sink.Last(key(0))
	if !ok || c.Active == nil || !*c.Active || c.Value != 0 {
		t.Fatalf("last record = %v, want 0 with active=true", c)
	}
	checkCadence(t, h, rd, polling, sources.ReasonPoll, 2)

	report.Store(false)
	h.step(polling * 2)
	h.settle()
	if c, _ := h.sink.Last(key(0)); c.Active != nil {
		t.Fatalf("last record = %v, want no activity", c)
	}
	checkCadence(t, h, rd, repair, sources.ReasonRepair, 1)
	var _ sources.ActivitySink = sourcetest.NewSink()
}

// TestReportActiveOutsideARead does nothing.
func TestReportActiveOutsideARead(t *testing.T) {
	sources.ReportActive(context.Background(), true)
}

// TestBackoff waits on the clock and stops with the context.
func TestBackoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if sources.Backoff(ctx, clock.RealClock{}, time.Hour, 3) {
		t.Fatal("Backoff with a cancelled context = true")
	}
	if !sources.Backoff(context.Background(), clock.RealClock{}, time.Millisecond, 0) {
		t.Fatal("Backoff = false")
	}
}
