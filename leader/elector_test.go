package leader

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	testingclock "k8s.io/utils/clock/testing"
)

// Short timings: a lease of 3 s, so a handover "at once" (release on
// cancel) is told apart from one after expiry.
func testElector(t *testing.T, client *fake.Clientset, identity, address string) *Elector {
	t.Helper()
	e, err := New(Options{Client: client, Namespace: "ns", Identity: identity, Address: address,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// run starts e until the returned stop is called; stop returns Start's
// error.
func run(e *Elector) (stop func() error, done <-chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Start(ctx) }()
	return func() error { cancel(); return <-errc }, errc
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

func TestElectorOneLeaderAndGracefulHandover(t *testing.T) {
	client := fake.NewClientset()
	a := testElector(t, client, "a", "10.0.0.1:8080")
	stopA, _ := run(a)
	select {
	case <-a.Elected():
	case <-time.After(5 * time.Second):
		t.Fatal("a was not elected")
	}
	waitFor(t, time.Second, "a leading", a.Leading)
	lease, err := client.CoordinationV1().Leases("ns").Get(context.Background(), LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := lease.Annotations[AddressAnnotation]; got != "10.0.0.1:8080" {
		t.Fatalf("the Lease's %s is %q, want the leader's address", AddressAnnotation, got)
	}

	b := testElector(t, client, "b", "10.0.0.2:8080")
	stopB, _ := run(b)
	defer func() { _ = stopB() }()
	waitFor(t, 2*time.Second, "b to see a as the leader", func() bool {
		id, addr, ok := b.Leader()
		return ok && id == "a" && addr == "10.0.0.1:8080"
	})
	if b.Leading() {
		t.Fatal("b leads beside a")
	}
	select {
	case <-b.Elected():
		t.Fatal("b elected beside a")
	default:
	}

	stopped := time.Now()
	if err := stopA(); err != nil {
		t.Fatalf("a's Start after cancel: %v, want nil", err)
	}
	if a.Leading() {
		t.Fatal("a still leads after its stop")
	}
	select {
	case <-b.Elected():
	case <-time.After(3 * time.Second):
		t.Fatal("b did not take over")
	}
	// Released on cancel: b takes over within a few retry periods, well
	// before the 3 s lease would have expired.
	if took := time.Since(stopped); took > 1500*time.Millisecond {
		t.Fatalf("handover took %v after a graceful stop, want well under the lease duration", took)
	}
	waitFor(t, time.Second, "b leading", b.Leading)
	lease, err = client.CoordinationV1().Leases("ns").Get(context.Background(), LeaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := lease.Annotations[AddressAnnotation]; got != "10.0.0.2:8080" {
		t.Fatalf("after the takeover the Lease's address is %q, want b's", got)
	}
}

// TestElectorLosesLease: a leader that cannot renew stops leading before
// its lease can expire for the others (within the renew deadline) and
// Start returns ErrLost.
func TestElectorLosesLease(t *testing.T) {
	client := fake.NewClientset()
	// Installed before the campaign (reactors are not safe to add while
	// the client is used); failing turns the apiserver away.
	var failing atomic.Bool
	unreachable := func(k8stesting.Action) (bool, runtime.Object, error) {
		if failing.Load() {
			return true, nil, errors.New("apiserver unreachable")
		}
		return false, nil, nil
	}
	client.PrependReactor("update", "leases", unreachable)
	client.PrependReactor("get", "leases", unreachable)
	a := testElector(t, client, "a", "")
	_, done := run(a)
	select {
	case <-a.Elected():
	case <-time.After(5 * time.Second):
		t.Fatal("a was not elected")
	}
	waitFor(t, time.Second, "a leading", a.Leading)
	failing.Store(true)
	took := waitFor(t, 3*time.Second, "a to stop leading", func() bool { return !a.Leading() })
	// The last renewal was at most a retry period before the failures.
	if took > 2*time.Second+200*time.Millisecond {
		t.Fatalf("a kept leading %v without renewing, more than the renew deadline", took)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrLost) {
			t.Fatalf("Start returned %v, want ErrLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Start did not return after the lease was lost")
	}
}

func TestAlways(t *testing.T) {
	e := Always(nil)
	if !e.Leading() {
		t.Fatal("Always does not lead")
	}
	select {
	case <-e.Elected():
	default:
		t.Fatal("Always is not elected")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestElectorTakesOverAtExpiry: a holder that stops renewing without
// releasing (a crash) is replaced when its lease, counted from the last
// renewal the candidate saw, expires: not before, and at once after (the
// candidate watches the Lease and times the expiry; client-go's own loop
// reads every 1–2.2 retry periods and could take up to 4.4 retry periods
// more). The candidate's clock is fake, so the expiry is exact however
// busy the machine is.
func TestElectorTakesOverAtExpiry(t *testing.T) {
	client := fake.NewClientset()
	ctx := context.Background()
	leases := client.CoordinationV1().Leases("ns")
	fc := testingclock.NewFakeClock(time.Now())
	holder, duration := "x", int32(2)
	renewed := metav1.NewMicroTime(fc.Now())
	lease, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: "ns"},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration, AcquireTime: &renewed, RenewTime: &renewed},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Client: client, Namespace: "ns", Identity: "b", Clock: fc,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	stopB, _ := run(b)
	defer func() { _ = stopB() }()
	// settled waits (in real time) until b has seen the Lease as renewed
	// last and waits on its timer.
	settled := func(what string) {
		t.Helper()
		waitFor(t, 10*time.Second, what, func() bool {
			o := b.lock.observed()
			return o.holder == "x" && o.renew.Equal(lease.Spec.RenewTime.Time) && fc.HasWaiters()
		})
	}
	settled("b to see x's lease")
	// x renews three times, a second apart on b's clock, past its first
	// lease: b must wait all along.
	for range 3 {
		fc.Step(time.Second)
		now := metav1.NewMicroTime(fc.Now())
		lease.Spec.RenewTime = &now
		if lease, err = leases.Update(ctx, lease, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		settled("b to see x's renewal")
	}
	// x crashed after its last renewal: 1.9 s later its lease still holds.
	fc.Step(time.Second)
	settled("b's next read")
	fc.Step(900 * time.Millisecond)
	settled("b's timer for the expiry")
	select {
	case <-b.Elected():
		t.Fatal("b took the Lease before it expired")
	case <-time.After(200 * time.Millisecond):
	}
	// At 2 s it expires, and b takes it at once.
	fc.Step(100 * time.Millisecond)
	select {
	case <-b.Elected():
	case <-time.After(10 * time.Second):
		t.Fatal("b did not take over when x's lease expired")
	}
}

// TestReleaseIfHeld: a stop between the campaign's takeover and client-go's
// first renewal releases the Lease all the same; a Lease held by another
// replica is left alone.
func TestReleaseIfHeld(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ holder, want string }{{"b", ""}, {"x", "x"}} {
		client := fake.NewClientset()
		holder, duration := tc.holder, int32(15)
		now := metav1.NewMicroTime(time.Now())
		if _, err := client.CoordinationV1().Leases("ns").Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Name: LeaseName, Namespace: "ns"},
			Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &duration, AcquireTime: &now, RenewTime: &now},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		testElector(t, client, "b", "").releaseIfHeld()
		lease, err := client.CoordinationV1().Leases("ns").Get(ctx, LeaseName, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := *lease.Spec.HolderIdentity; got != tc.want {
			t.Errorf("held by %q: after releaseIfHeld the holder is %q, want %q", tc.holder, got, tc.want)
		}
	}
}
