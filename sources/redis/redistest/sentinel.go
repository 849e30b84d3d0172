package redistest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// downAfter is Sentinel's down-after-milliseconds: how long a master
	// must not answer before a Sentinel thinks it is down.
	downAfter = 1000 * time.Millisecond
	// sentinelFailoverTimeout is Sentinel's failover-timeout.
	sentinelFailoverTimeout = 5000 * time.Millisecond
	// sentinelTimeout bounds each wait on the Sentinel topology.
	sentinelTimeout = 30 * time.Second
)

// SentinelOptions configure StartSentinel and NewSentinel.
type SentinelOptions struct {
	// MasterName is the name the Sentinels monitor the master under; empty
	// means "mymaster".
	MasterName string
	// Replicas is the number of replicas of the master; 0 means 1, -1
	// means none (then no failover is possible).
	Replicas int
	// Sentinels is the number of redis-sentinel processes; 0 means 3. The
	// quorum is a majority of them.
	Sentinels int
	// NotifyKeyspaceEvents, Password and ACLs apply to the master and the
	// replicas, as in ServerOptions; the Sentinels themselves have no
	// password and use Password to reach the data nodes.
	NotifyKeyspaceEvents string
	Password             string
	ACLs                 []string
}

func (o *SentinelOptions) applyDefaults() error {
	if o.MasterName == "" {
		o.MasterName = "mymaster"
	}
	switch o.Replicas {
	case 0:
		o.Replicas = 1
	case -1:
		o.Replicas = 0
	}
	if o.Sentinels == 0 {
		o.Sentinels = 3
	}
	if strings.ContainsAny(o.MasterName, " \t\r\n\"'") {
		return fmt.Errorf("redistest: MasterName %q: must not contain spaces or quotes", o.MasterName)
	}
	if strings.ContainsAny(o.Password, " \t\r\n\"'") {
		return fmt.Errorf("redistest: Password: must not contain spaces or quotes")
	}
	if o.Replicas < 0 {
		return fmt.Errorf("redistest: Replicas %d: must be -1 or more", o.Replicas)
	}
	if o.Sentinels < 1 {
		return fmt.Errorf("redistest: Sentinels %d: must be positive", o.Sentinels)
	}
	return nil
}

// Sentinel is a master with replicas, monitored by Sentinels, all on
// 127.0.0.1. Its methods are safe for concurrent use, but Failover and
// StopMaster must not run at the same time.
type Sentinel struct {
	name      string
	password  string
	data      []*node // redis-servers; data[0] is the first master
	sentinels []*node
	root      string
	owned     bool // root was created by NewSentinel and is removed by Stop

	mu     sync.Mutex
	client *redis.Client
}

// StartSentinel starts a master, its replicas and the Sentinels that
// monitor it, and returns once every replica is in sync and every
// Sentinel knows the master, the replicas and the other Sentinels. It
// fails tb on error; everything is stopped when the test ends, and the
// logs are printed if the test failed.
func StartSentinel(tb testing.TB, opts SentinelOptions) *Sentinel {
	tb.Helper()
	s, err := newSentinel(tb.Context(), tb, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, n := range s.all() {
				tb.Logf("redistest: %s %s: %s", n.name, n.addr(), n.logTail())
			}
		}
		s.Stop()
	})
	return s
}

// NewSentinel is StartSentinel for code without a testing.TB: the caller
// must call Stop. Its files go to a new temporary folder that Stop
// removes.
func NewSentinel(ctx context.Context, opts SentinelOptions) (*Sentinel, error) {
	return newSentinel(ctx, nil, opts)
}

func newSentinel(ctx context.Context, tb testing.TB, opts SentinelOptions) (*Sentinel, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	cfg := dataConfig{notify: opts.NotifyKeyspaceEvents, password: opts.Password, acls: opts.ACLs}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	root, owned, err := rootDir(tb)
	if err != nil {
		return nil, err
	}
	s := &Sentinel{name: opts.MasterName, password: opts.Password, root: root, owned: owned}
	if err := s.startAll(ctx, cfg, opts.Replicas, opts.Sentinels); err != nil {
		err = withLogs(err, s.all()...)
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Sentinel) startAll(ctx context.Context, cfg dataConfig, replicas, sentinels int) error {
	master, err := newNode(s.root, "redis-0", "redis-server", s.password, cfg.args(nil))
	if err != nil {
		return err
	}
	s.data = append(s.data, master)
	if err := master.start(ctx); err != nil {
		return err
	}
	host, port, _ := strings.Cut(master.addr(), ":")
	for i := 1; i <= replicas; i++ {
		args := cfg.args(func(string, int) []string { return []string{"--replicaof", host, port} })
		n, err := newNode(s.root, fmt.Sprintf("redis-%d", i), "redis-server", s.password, args)
		if err != nil {
			return err
		}
		s.data = append(s.data, n)
		if err := n.start(ctx); err != nil {
			return err
		}
	}
	if err := s.waitReplicas(ctx, master); err != nil {
		return err
	}
	quorum := sentinels/2 + 1
	for i := range sentinels {
		args := func(dir string, p int) ([]string, error) {
			conf := filepath.Join(dir, "sentinel.conf")
			return []string{conf}, os.WriteFile(conf, []byte(s.sentinelConf(dir, p, host, port, quorum)), 0o600)
		}
		n, err := newNode(s.root, fmt.Sprintf("sentinel-%d", i), "redis-sentinel", "", args)
		if err != nil {
			return err
		}
		s.sentinels = append(s.sentinels, n)
		if err := n.start(ctx); err != nil {
			return err
		}
	}
	return s.waitSentinels(ctx, master.addr())
}

// sentinelConf is the configuration of a Sentinel on port p. Sentinel
// rewrites the file to record what it learns, hence one file each.
func (s *Sentinel) sentinelConf(dir string, p int, masterHost, masterPort string, quorum int) string {
	lines := []string{
		fmt.Sprintf("port %d", p),
		"bind 127.0.0.1",
		"dir " + dir,
		"sentinel resolve-hostnames no",
		fmt.Sprintf("sentinel monitor %s %s %s %d", s.name, masterHost, masterPort, quorum),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.name, downAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", s.name, sentinelFailoverTimeout.Milliseconds()),
	}
	if s.password != "" {
		lines = append(lines, fmt.Sprintf("sentinel auth-pass %s %s", s.name, s.password))
	}
	return strings.Join(lines, "\n") + "\n"
}

// all returns the redis-servers, then the Sentinels.
func (s *Sentinel) all() []*node {
	return append(slices.Clip(s.data), s.sentinels...)
}

// SentinelAddrs returns the addresses of the Sentinels.
func (s *Sentinel) SentinelAddrs() []string {
	addrs := make([]string, len(s.sentinels))
	for i, n := range s.sentinels {
		addrs[i] = n.addr()
	}
	return addrs
}

// MasterName returns the name the Sentinels monitor the master under.
func (s *Sentinel) MasterName() string { return s.name }

// Client returns a failover client (redis.NewFailoverClient) that finds
// the master through the Sentinels, authenticated as the default user. It
// is shared: callers must not close it (Stop does).
func (s *Sentinel) Client() *redis.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		s.client = redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName:    s.name,
			SentinelAddrs: s.SentinelAddrs(),
			Password:      s.password,
		})
	}
	return s.client
}

// Stop kills every process, closes Client and, for a topology from
// NewSentinel, removes its files. The Sentinel cannot be used afterwards.
func (s *Sentinel) Stop() {
	for _, n := range slices.Backward(s.all()) { // Sentinels first: no failover attempt
		n.close()
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c != nil {
		_ = c.Close()
	}
	if s.owned {
		_ = os.RemoveAll(s.root)
	}
}
