package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

const (
	// clusterNodeTimeout is --cluster-node-timeout: short, so that
	// failure detection and failovers take seconds.
	clusterNodeTimeout = 2000 * time.Millisecond
	// clusterTimeout bounds each wait for the cluster to settle.
	clusterTimeout = 30 * time.Second
)

// ClusterOptions configure StartCluster and NewCluster.
type ClusterOptions struct {
	// Primaries is the number of primaries; 0 means 3. The 16384 slots are
	// split evenly between them, in order.
	Primaries int
	// ReplicasPerPrimary is the number of replicas of each primary; 0
	// means 1, -1 means none.
	ReplicasPerPrimary int
	// NotifyKeyspaceEvents, Password, ACLs, DisableConfig and Args apply
	// to every node, as in ServerOptions. Notifications are sent by the
	// node that owns the key.
	NotifyKeyspaceEvents string
	Password             string
	ACLs                 []string
	DisableConfig        bool
	Args                 []string
}

func (o *ClusterOptions) applyDefaults() error {
	if o.Primaries == 0 {
		o.Primaries = 3
	}
	switch o.ReplicasPerPrimary {
	case 0:
		o.ReplicasPerPrimary = 1
	case -1:
		o.ReplicasPerPrimary = 0
	}
	if o.Primaries < 1 {
		return fmt.Errorf("redistest: Primaries %d: must be positive", o.Primaries)
	}
	if o.ReplicasPerPrimary < 0 {
		return fmt.Errorf("redistest: ReplicasPerPrimary %d: must be -1 or more", o.ReplicasPerPrimary)
	}
	return nil
}

// Cluster is a Redis Cluster on 127.0.0.1. Its methods are safe for
// concurrent use, but Failover and MoveSlot must not run at the same time.
type Cluster struct {
	nodes    []*node // primaries first, then the replicas of each primary in turn
	password string
	root     string
	owned    bool // root was created by NewCluster and is removed by Stop

	mu     sync.Mutex
	view   []clusterNode // the topology after the last settle
	client *redis.ClusterClient
}

// StartCluster starts a Redis Cluster of opts.Primaries primaries with
// opts.ReplicasPerPrimary replicas each, and returns once every node
// reports cluster_state:ok, agrees on the topology and every replica is
// in sync with its primary. It fails tb on error; the cluster is stopped
// when the test ends, and the nodes' logs are printed if the test failed.
func StartCluster(tb testing.TB, opts ClusterOptions) *Cluster {
	tb.Helper()
	c, err := newCluster(tb.Context(), tb, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			for _, n := range c.nodes {
				tb.Logf("redistest: cluster node %s: %s", n.addr(), n.logTail())
			}
		}
		c.Stop()
	})
	return c
}

// NewCluster is StartCluster for code without a testing.TB: the caller
// must call Stop. Its files go to a new temporary folder that Stop
// removes.
func NewCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	return newCluster(ctx, nil, opts)
}

func newCluster(ctx context.Context, tb testing.TB, opts ClusterOptions) (*Cluster, error) {
	if err := opts.applyDefaults(); err != nil {
		return nil, err
	}
	cfg := dataConfig{notify: opts.NotifyKeyspaceEvents, password: opts.Password, acls: opts.ACLs,
		disableConfig: opts.DisableConfig, extra: opts.Args}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	root, owned, err := rootDir(tb)
	if err != nil {
		return nil, err
	}
	c := &Cluster{password: opts.Password, root: root, owned: owned}
	args := cfg.args(func(dir string, _ int) []string {
		return []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", dir + "/nodes.conf",
			"--cluster-node-timeout", strconv.Itoa(int(clusterNodeTimeout.Milliseconds())),
			"--cluster-announce-ip", "127.0.0.1",
		}
	})
	if err := c.form(ctx, opts.Primaries, opts.ReplicasPerPrimary, args); err != nil {
		err = withLogs(err, c.nodes...)
		c.Stop()
		return nil, err
	}
	return c, nil
}

// form starts the nodes and joins them into a cluster.
func (c *Cluster) form(ctx context.Context, primaries, replicas int, args func(string, int) ([]string, error)) error {
	ids, err := c.startNodes(ctx, primaries*(1+replicas), args)
	if err != nil {
		return err
	}
	if err := c.meet(ctx); err != nil {
		return err
	}
	for i := range primaries {
		from, to := i*numSlots/primaries, (i+1)*numSlots/primaries-1
		if err := c.nodes[i].client().ClusterAddSlotsRange(ctx, from, to).Err(); err != nil {
			return c.nodeErr(c.nodes[i], "CLUSTER ADDSLOTSRANGE", err)
		}
	}
	primaryOf := func(i int) string { return ids[(i-primaries)/replicas] }
	for i := primaries; i < len(c.nodes); i++ {
		if err := c.nodes[i].client().ClusterReplicate(ctx, primaryOf(i)).Err(); err != nil {
			return c.nodeErr(c.nodes[i], "CLUSTER REPLICATE", err)
		}
	}
	_, err = c.settle(ctx, "the cluster to form", func(view []clusterNode) error {
		for i := primaries; i < len(c.nodes); i++ {
			if n, _ := nodeByAddr(view, c.nodes[i].addr()); n.primary() || n.masterID != primaryOf(i) {
				return fmt.Errorf("%s is not yet a replica of %s", n.addr, primaryOf(i))
			}
		}
		return nil
	})
	return err
}

// startNodes starts total nodes, each with its own config epoch (which
// spares them resolving collisions), and returns their ids.
func (c *Cluster) startNodes(ctx context.Context, total int, args func(string, int) ([]string, error)) ([]string, error) {
	ids := make([]string, total)
	for i := range total {
		n, err := newNode(c.root, fmt.Sprintf("node-%d", i), "redis-server", c.password, args)
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		if err := n.start(ctx); err != nil {
			return nil, err
		}
		if ids[i], err = n.client().ClusterMyID(ctx).Result(); err != nil {
			return nil, c.nodeErr(n, "CLUSTER MYID", err)
		}
		if err := n.client().Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return nil, c.nodeErr(n, "CLUSTER SET-CONFIG-EPOCH", err)
		}
	}
	return ids, nil
}

// meet introduces every node to the first one with CLUSTER MEET and waits
// until every node knows every other.
func (c *Cluster) meet(ctx context.Context) error {
	for _, n := range c.nodes[1:] {
		host, port, _ := net.SplitHostPort(n.addr())
		if err := c.nodes[0].client().ClusterMeet(ctx, host, port).Err(); err != nil {
			return c.nodeErr(c.nodes[0], "CLUSTER MEET", err)
		}
	}
	return poll(ctx, clusterTimeout, "the cluster nodes to know each other", func(ctx context.Context) error {
		return c.eachNode(ctx, func(ctx context.Context, n *node) error {
			view, err := nodesOf(ctx, n)
			if err != nil {
				return err
			}
			if len(view) != len(c.nodes) {
				return fmt.Errorf("%s knows %d nodes, want %d", n.addr(), len(view), len(c.nodes))
			}
			for _, v := range view {
				if v.has("handshake") || v.has("noaddr") {
					return fmt.Errorf("%s is still in handshake with %s", n.addr(), v.addr)
				}
			}
			return nil
		})
	})
}

// nodeErr reports a failed command on n.
func (c *Cluster) nodeErr(n *node, cmd string, err error) error {
	return fmt.Errorf("redistest: cluster node %s: %s: %w", n.addr(), cmd, err)
}

// eachNode runs check on every running node and returns the first error.
func (c *Cluster) eachNode(ctx context.Context, check func(context.Context, *node) error) error {
	for _, n := range c.nodes {
		if !n.running() {
			continue
		}
		if err := check(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func nodesOf(ctx context.Context, n *node) ([]clusterNode, error) {
	reply, err := n.client().ClusterNodes(ctx).Result()
	if err != nil {
		return nil, fmt.Errorf("%s: CLUSTER NODES: %w", n.addr(), err)
	}
	view, err := parseClusterNodes(reply)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", n.addr(), err)
	}
	return view, nil
}

// settle waits until the cluster is stable and want accepts its topology,
// records that topology for PrimaryAddrs and NodeFor, and returns it.
// Stable means: every running node reports cluster_state:ok with all
// slots served, every node reports the same topology with no node failing
// and no slot migrating, and every replica's link to its primary is up.
func (c *Cluster) settle(ctx context.Context, what string, want func([]clusterNode) error) ([]clusterNode, error) {
	var view []clusterNode
	err := poll(ctx, clusterTimeout, what, func(ctx context.Context) error {
		var first, firstAddr string
		err := c.eachNode(ctx, func(ctx context.Context, n *node) error {
			info, err := n.client().ClusterInfo(ctx).Result()
			if err != nil {
				return fmt.Errorf("%s: CLUSTER INFO: %w", n.addr(), err)
			}
			for _, field := range []string{"cluster_state:ok", "cluster_slots_ok:16384"} {
				if !strings.Contains(info, field+"\r\n") {
					return fmt.Errorf("%s: CLUSTER INFO lacks %s", n.addr(), field)
				}
			}
			v, err := nodesOf(ctx, n)
			if err != nil {
				return err
			}
			if key := topologyKey(v); firstAddr == "" {
				first, firstAddr, view = key, n.addr(), v
			} else if key != first {
				return fmt.Errorf("%s disagrees with %s on the topology:\n%s\nversus\n%s", n.addr(), firstAddr, key, first)
			}
			self, ok := selfOf(v)
			if !ok {
				return fmt.Errorf("%s: no myself line in CLUSTER NODES", n.addr())
			}
			if self.migrating {
				return fmt.Errorf("%s has a slot migrating", n.addr())
			}
			if !self.primary() {
				return replicaLinked(ctx, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, v := range view {
			if v.has("fail") || v.has("fail?") {
				return fmt.Errorf("%s is flagged failing", v.addr)
			}
		}
		return want(view)
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.view = view
	c.mu.Unlock()
	return view, nil
}

// selfOf returns the line of view that describes the reporting node.
func selfOf(view []clusterNode) (clusterNode, bool) {
	for _, v := range view {
		if v.has("myself") {
			return v, true
		}
	}
	return clusterNode{}, false
}

// replicaLinked checks that replica n is in sync with its primary.
func replicaLinked(ctx context.Context, n *node) error {
	info, err := n.client().Info(ctx, "replication").Result()
	if err != nil {
		return fmt.Errorf("%s: INFO replication: %w", n.addr(), err)
	}
	if !strings.Contains(info, "master_link_status:up\r\n") {
		return fmt.Errorf("%s: replication link not up", n.addr())
	}
	return nil
}

// Addrs returns the addresses of all nodes, primaries and replicas, in
// the order they were started; it does not change.
func (c *Cluster) Addrs() []string {
	addrs := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		addrs[i] = n.addr()
	}
	return addrs
}

// PrimaryAddrs returns the addresses of the nodes that are primaries, in
// the order they were started, as of the last change made through this
// Cluster (start, Failover, MoveSlot).
func (c *Cluster) PrimaryAddrs() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var addrs []string
	for _, n := range c.nodes {
		if v, ok := nodeByAddr(c.view, n.addr()); ok && v.primary() {
			addrs = append(addrs, v.addr)
		}
	}
	return addrs
}

// SlotOf returns the hash slot of key (CRC16 of the key or of its hash
// tag, modulo 16384), as Redis Cluster computes it.
func (c *Cluster) SlotOf(key string) int { return keySlot(key) }

// NodeFor returns the address of the primary that serves key, as of the
// last change made through this Cluster.
func (c *Cluster) NodeFor(key string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, _ := slotOwner(c.view, keySlot(key))
	return n.addr
}

// Client returns a cluster client of all the nodes, authenticated as the
// default user. It is shared: callers must not close it (Stop does).
func (c *Cluster) Client() *redis.ClusterClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Password: c.password})
	}
	return c.client
}

// Stop kills every node, closes Client and, for a cluster from
// NewCluster, removes its files. The Cluster cannot be used afterwards.
func (c *Cluster) Stop() {
	for _, n := range c.nodes {
		n.close()
	}
	c.mu.Lock()
	cl := c.client
	c.mu.Unlock()
	if cl != nil {
		_ = cl.Close()
	}
	if c.owned {
		_ = os.RemoveAll(c.root)
	}
}
