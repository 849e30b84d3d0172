package leader

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/utils/clock"
)

// ErrLost is Start's answer when this replica stopped leading while its
// context was still running: the Lease could not be renewed in time.
var ErrLost = errors.New("leader: lost the leader lease")

// LeaseName is the Lease the gateway's replicas campaign for.
const LeaseName = "pushscale-leader"

// Options configure an Elector.
type Options struct {
	// Client reads and writes the Lease. It must not be fenced.
	Client kubernetes.Interface
	// Namespace and Name are the Lease's (Name default LeaseName).
	Namespace, Name string
	// Identity names this replica in the Lease (default NewIdentity()).
	Identity string
	// Address is this replica's webhook address (host:port) published on
	// the Lease while it leads; "": none (standbys cannot forward).
	Address string
	// LeaseDuration, RenewDeadline and RetryPeriod are client-go's
	// (defaults 15s, 10s, 2s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Logger                                    *slog.Logger
	// Registerer receives pushscale_leader and
	// pushscale_leader_takeovers_total (nil: none).
	Registerer prometheus.Registerer
	Clock      clock.Clock
}

// Elector campaigns for the Lease. Leading, Elected and Leader are safe for
// concurrent use; Start runs the campaign.
type Elector struct {
	opts    Options
	lock    *leaseLock
	always  bool
	elected chan struct{}
	once    sync.Once
	// term is set from the start of leading until it ends.
	term      atomic.Bool
	gauge     prometheus.Gauge
	takeovers prometheus.Counter
}

// NewIdentity is POD_NAME (else the host name) and a random suffix, so a
// replica restarted under the same name is a new candidate.
func NewIdentity() string {
	name := os.Getenv("POD_NAME")
	if name == "" {
		name, _ = os.Hostname()
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return name + "_" + hex.EncodeToString(b)
}

// New returns an Elector; nothing runs until Start.
func New(opts Options) (*Elector, error) {
	if opts.Client == nil || opts.Namespace == "" {
		return nil, errors.New("leader: a client and a namespace are required")
	}
	if opts.Name == "" {
		opts.Name = LeaseName
	}
	if opts.Identity == "" {
		opts.Identity = NewIdentity()
	}
	if opts.LeaseDuration == 0 {
		opts.LeaseDuration = 15 * time.Second
	}
	if opts.RenewDeadline == 0 {
		opts.RenewDeadline = 10 * time.Second
	}
	if opts.RetryPeriod == 0 {
		opts.RetryPeriod = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	e := newElector(opts)
	e.lock = &leaseLock{
		client: opts.Client.CoordinationV1(), namespace: opts.Namespace, name: opts.Name,
		identity: opts.Identity, address: opts.Address, clock: opts.Clock,
	}
	return e, nil
}

// Always returns an Elector that leads from the start and never campaigns:
// a single replica without leader election (its Start only waits for ctx).
func Always(reg prometheus.Registerer) *Elector {
	e := newElector(Options{Registerer: reg, Identity: "always"})
	e.always = true
	e.becameLeader()
	return e
}

func newElector(opts Options) *Elector {
	e := &Elector{
		opts:    opts,
		elected: make(chan struct{}),
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pushscale_leader",
			Help: "1 while this replica leads (writes scale, HPAs, status, Events, Jobs and the saved webhook levels), 0 while it is a standby.",
		}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pushscale_leader_takeovers_total",
			Help: "Times this replica became the leader.",
		}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(e.gauge, e.takeovers)
	}
	return e
}

// Identity is this replica's name in the Lease.
func (e *Elector) Identity() string { return e.opts.Identity }

// Elected is closed when this replica becomes the leader.
func (e *Elector) Elected() <-chan struct{} { return e.elected }

// Leading reports whether this replica may write now: it holds the Lease
// and renewed it less than the renew deadline ago (so it turns false
// before the others may take the Lease over).
func (e *Elector) Leading() bool {
	if e.always {
		return true
	}
	if !e.term.Load() {
		return false
	}
	at := e.lock.renewed()
	return !at.IsZero() && e.opts.Clock.Since(at) < e.opts.RenewDeadline
}

// Leader returns the identity and webhook address of the replica that
// leads, as this one last saw the Lease; ok is false when no replica
// holds an unexpired Lease as far as this one knows.
func (e *Elector) Leader() (identity, address string, ok bool) {
	if e.Leading() {
		return e.opts.Identity, e.opts.Address, true
	}
	if e.always {
		return "", "", false
	}
	o := e.lock.observed()
	if o.holder == "" || o.holder == e.opts.Identity || e.opts.Clock.Since(o.at) >= o.duration {
		return "", "", false
	}
	return o.holder, o.address, true
}

// Start campaigns until ctx is done, leads once it has the Lease, and
// releases it when ctx is done. It returns nil after ctx is done and
// ErrLost when the Lease is lost before.
func (e *Elector) Start(ctx context.Context) error {
	if e.always {
		<-ctx.Done()
		return nil
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            e.lock,
		Name:            e.opts.Name,
		LeaseDuration:   e.opts.LeaseDuration,
		RenewDeadline:   e.opts.RenewDeadline,
		RetryPeriod:     e.opts.RetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { e.becameLeader() },
			OnStoppedLeading: func() {
				if e.term.Swap(false) {
					e.gauge.Set(0)
					e.opts.Logger.Info("stopped leading", "lease", e.lock.Describe(), "identity", e.opts.Identity)
				}
			},
			OnNewLeader: func(identity string) {
				if identity != e.opts.Identity {
					e.opts.Logger.Info("leader observed", "lease", e.lock.Describe(), "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader: %w", err)
	}
	e.opts.Logger.Info("campaigning for the leader lease", "lease", e.lock.Describe(), "identity", e.opts.Identity, "address", e.opts.Address)
	if err := e.campaign(ctx); err != nil {
		return nil
	}
	le.Run(ctx)
	if ctx.Err() == nil {
		return ErrLost
	}
	// Stopped between the campaign's takeover and client-go's first
	// renewal, client-go would leave the Lease held until it expires.
	e.releaseIfHeld()
	return nil
}

func (e *Elector) becameLeader() {
	e.term.Store(true)
	e.gauge.Set(1)
	e.once.Do(func() { close(e.elected) })
	if !e.always {
		e.takeovers.Inc()
		e.opts.Logger.Info("became the leader", "lease", e.lock.Describe(), "identity", e.opts.Identity, "address", e.opts.Address)
	}
}
