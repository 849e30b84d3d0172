package leader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coordinationv1client "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/utils/clock"
)

// AddressAnnotation on the Lease is the holder's webhook address
// (host:port), written by the holder with every renewal and removed when
// it releases the Lease.
const AddressAnnotation = "pushscale.io/webhook-address"

// leaseLock is client-go's LeaseLock plus the address annotation and what
// the Elector needs to know: when this replica last renewed (Leading) and
// who holds the Lease as last read (Leader). Its methods are called by
// the leaderelection loop, one at a time; the observations are read
// concurrently under mu.
type leaseLock struct {
	client            coordinationv1client.LeasesGetter
	namespace, name   string
	identity, address string
	clock             clock.PassiveClock
	lease             *coordinationv1.Lease // last read or written; loop only

	mu sync.Mutex
	// renewedAt is when the last successful write holding the Lease for
	// this replica was sent (zero: none, or released since).
	renewedAt time.Time
	// seen is the Lease as last read or written.
	seen observation
}

// observation is a holder of the Lease as this replica saw it.
type observation struct {
	holder, address string
	renew           time.Time     // the record's renewTime
	duration        time.Duration // the record's lease duration
	at              time.Time     // local time the record was first seen as it is
}

var _ resourcelock.Interface = (*leaseLock)(nil)

func (l *leaseLock) Get(ctx context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	lease, err := l.client.Leases(l.namespace).Get(ctx, l.name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	l.lease = lease
	l.observe(lease)
	rec := resourcelock.LeaseSpecToLeaderElectionRecord(&lease.Spec)
	raw, err := json.Marshal(rec)
	if err != nil {
		return nil, nil, err
	}
	return rec, raw, nil
}

func (l *leaseLock) Create(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: l.name, Namespace: l.namespace},
		Spec:       resourcelock.LeaderElectionRecordToLeaseSpec(&rec),
	}
	return l.write(ctx, rec, lease, func(lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
		return l.client.Leases(l.namespace).Create(ctx, lease, metav1.CreateOptions{})
	})
}

func (l *leaseLock) Update(ctx context.Context, rec resourcelock.LeaderElectionRecord) error {
	if l.lease == nil {
		return errors.New("leader: lease not read yet")
	}
	lease := l.lease.DeepCopy()
	lease.Spec = resourcelock.LeaderElectionRecordToLeaseSpec(&rec)
	return l.write(ctx, rec, lease, func(lease *coordinationv1.Lease) (*coordinationv1.Lease, error) {
		return l.client.Leases(l.namespace).Update(ctx, lease, metav1.UpdateOptions{})
	})
}

// write sends lease, holding rec, with send. A record that does not hold
// the Lease for this replica (a release) ends Leading before it is sent;
// one that does counts as a renewal from the moment it was sent, once it
// succeeded.
func (l *leaseLock) write(_ context.Context, rec resourcelock.LeaderElectionRecord, lease *coordinationv1.Lease,
	send func(*coordinationv1.Lease) (*coordinationv1.Lease, error)) error {
	mine := rec.HolderIdentity == l.identity
	if mine && l.address != "" {
		if lease.Annotations == nil {
			lease.Annotations = map[string]string{}
		}
		lease.Annotations[AddressAnnotation] = l.address
	} else {
		delete(lease.Annotations, AddressAnnotation)
	}
	sent := l.clock.Now()
	if !mine {
		l.mu.Lock()
		l.renewedAt = time.Time{}
		l.mu.Unlock()
	}
	got, err := send(lease)
	if err != nil {
		return err
	}
	l.lease = got
	l.observe(got)
	if mine {
		l.mu.Lock()
		l.renewedAt = sent
		l.mu.Unlock()
	}
	return nil
}

func (l *leaseLock) observe(lease *coordinationv1.Lease) {
	rec := resourcelock.LeaseSpecToLeaderElectionRecord(&lease.Spec)
	o := observation{
		holder: rec.HolderIdentity, address: lease.Annotations[AddressAnnotation],
		renew: rec.RenewTime.Time, duration: time.Duration(rec.LeaseDurationSeconds) * time.Second,
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if o.holder != l.seen.holder || !o.renew.Equal(l.seen.renew) || o.address != l.seen.address {
		o.at = l.clock.Now()
		l.seen = o
	}
}

// renewed returns when this replica last renewed the Lease (zero: it does
// not hold it).
func (l *leaseLock) renewed() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.renewedAt
}

// observed returns the holder as last seen.
func (l *leaseLock) observed() observation {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seen
}

// RecordEvent records nothing: the Elector logs and counts transitions.
func (l *leaseLock) RecordEvent(string) {}

func (l *leaseLock) Identity() string { return l.identity }

func (l *leaseLock) Describe() string { return fmt.Sprintf("%s/%s", l.namespace, l.name) }
