package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sort"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// topology says which node serves each key: the one server of a standalone
// endpoint, the master a sentinel names, or the primary owning each hash
// slot of a cluster (from CLUSTER SLOTS). Replicas are never used.
type topology struct {
	known  bool
	master string      // standalone, sentinel
	slots  []slotRange // cluster, sorted by start
	err    error       // why the last resolution failed, if it did
	stale  bool        // a MOVED reply or a lost node suggests a change
}

// slotRange is a range of hash slots served by one primary.
type slotRange struct {
	start, end int
	addr       string
}

// owner returns the address of the node serving key, "" if none.
func (t topology) owner(key string) string {
	if !t.known {
		return ""
	}
	if t.slots == nil {
		return t.master
	}
	slot := slotOf(key)
	i := sort.Search(len(t.slots), func(i int) bool { return t.slots[i].end >= slot })
	if i < len(t.slots) && t.slots[i].start <= slot {
		return t.slots[i].addr
	}
	return ""
}

// masters returns the addresses of the nodes serving keys.
func (t topology) masters() []string {
	if !t.known {
		return nil
	}
	if t.slots == nil {
		return []string{t.master}
	}
	var out []string
	for _, r := range t.slots {
		if !slices.Contains(out, r.addr) {
			out = append(out, r.addr)
		}
	}
	return out
}

// equal reports whether t and u route every key alike.
func (t topology) equal(u topology) bool {
	return t.known == u.known && t.master == u.master && slices.Equal(t.slots, u.slots)
}

// ownerOf returns the address of the node serving key, resolving the
// topology first if it is not known.
func (e *endpoint) ownerOf(ctx context.Context, key string) (string, error) {
	e.mu.Lock()
	addr := e.topo.owner(key)
	e.mu.Unlock()
	if addr != "" {
		return addr, nil
	}
	if err := e.resolve(ctx, false); err != nil {
		return "", err
	}
	e.mu.Lock()
	addr = e.topo.owner(key)
	e.mu.Unlock()
	if addr == "" {
		return "", fmt.Errorf("redis: no cluster primary serves slot %d", slotOf(key))
	}
	return addr, nil
}

// markStale notes that the topology may have changed and wakes the loop to
// resolve it again.
func (e *endpoint) markStale() {
	if e.cfg.Kind != Standalone {
		e.mu.Lock()
		e.topo.stale = true
		e.mu.Unlock()
	}
	e.poke.Wake()
}

// resolve learns the topology, unless it is known and fresh and force is
// false. On failure the last known topology is kept (with its error set):
// a stale map is better than none while nodes come and go.
func (e *endpoint) resolve(ctx context.Context, force bool) error {
	if e.cfg.Kind == Standalone {
		return nil
	}
	e.topoMu.Lock()
	defer e.topoMu.Unlock()
	e.mu.Lock()
	fresh := e.topo.known && !e.topo.stale
	e.mu.Unlock()
	if fresh && !force {
		return nil
	}
	var (
		t   topology
		err error
	)
	if e.cfg.Kind == Cluster {
		t, err = e.fetchSlots(ctx)
	} else {
		t, err = e.fetchMaster(ctx)
	}
	e.mu.Lock()
	if err != nil {
		e.topo.err = err
		e.mu.Unlock()
		return err
	}
	changed := e.topo.known && !e.topo.equal(t)
	e.topo = t
	e.mu.Unlock()
	if changed {
		e.log.Info("redis topology changed", "primaries", t.masters())
	}
	return nil
}

// fetchSlots asks the known primaries, then the seed addresses, for the
// cluster's slot map.
func (e *endpoint) fetchSlots(ctx context.Context) (topology, error) {
	e.mu.Lock()
	candidates := e.topo.masters()
	e.mu.Unlock()
	for _, a := range e.cfg.Addresses {
		if !slices.Contains(candidates, a) {
			candidates = append(candidates, a)
		}
	}
	var last error
	for _, addr := range candidates {
		c := e.client(addr)
		if c == nil {
			return topology{}, errEndpointClosed
		}
		slots, err := c.ClusterSlots(ctx).Result()
		if err == nil {
			t := topology{known: true, slots: slotRanges(slots, addr)}
			if len(t.slots) == 0 {
				last = errors.New("no slot is assigned")
				continue
			}
			return t, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return topology{}, fmt.Errorf("redis: cluster slots: no node of %v answered: %w", candidates, last)
}

// slotRanges turns CLUSTER SLOTS into sorted ranges served by primaries.
// A primary announced without a host (or as "?") is on the host that was
// asked, as Redis means it.
func slotRanges(slots []redis.ClusterSlot, asked string) []slotRange {
	askedHost, _, _ := net.SplitHostPort(asked)
	out := make([]slotRange, 0, len(slots))
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		addr := s.Nodes[0].Addr
		if host, port, err := net.SplitHostPort(addr); err == nil && (host == "" || host == "?") {
			addr = net.JoinHostPort(askedHost, port)
		}
		out = append(out, slotRange{start: s.Start, end: s.End, addr: addr})
	}
	slices.SortFunc(out, func(a, b slotRange) int { return a.start - b.start })
	return out
}

// sentinelConn is the client of the sentinel that answered last.
type sentinelConn struct {
	addr   string
	client *redis.SentinelClient
}

// fetchMaster asks the sentinels, the one that answered last first, for
// the master's address.
func (e *endpoint) fetchMaster(ctx context.Context) (topology, error) {
	e.mu.Lock()
	current := e.sentinel
	e.mu.Unlock()
	order := slices.Clone(e.cfg.Addresses)
	if current != nil {
		if i := slices.Index(order, current.addr); i > 0 {
			order = append(append([]string{current.addr}, order[:i]...), order[i+1:]...)
		}
	}
	var last error
	for _, addr := range order {
		sc := current
		if sc == nil || sc.addr != addr {
			sc = &sentinelConn{addr: addr, client: redis.NewSentinelClient(e.sentinelOptions(addr))}
		}
		res, err := sc.client.GetMasterAddrByName(ctx, e.cfg.SentinelMaster).Result()
		if err == nil && len(res) == 2 {
			if sc != current {
				e.keepSentinel(sc)
			}
			return topology{known: true, master: net.JoinHostPort(res[0], res[1])}, nil
		}
		if sc != current {
			_ = sc.client.Close()
		}
		if errors.Is(err, redis.Nil) || err == nil {
			err = fmt.Errorf("sentinel %s does not know master %q", addr, e.cfg.SentinelMaster)
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return topology{}, fmt.Errorf("redis: sentinel: no sentinel of %v named the master: %w", e.cfg.Addresses, last)
}

// keepSentinel makes sc the sentinel asked first, closing the previous one.
func (e *endpoint) keepSentinel(sc *sentinelConn) {
	e.mu.Lock()
	old := e.sentinel
	if e.closed {
		old = sc
	} else {
		e.sentinel = sc
	}
	e.mu.Unlock()
	if old != nil {
		_ = old.client.Close()
	}
}

// sentinelOptions are the client options for the sentinel at addr.
func (e *endpoint) sentinelOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                     addr,
		Username:                 e.cfg.SentinelUsername,
		Password:                 e.cfg.sentinelPassword,
		TLSConfig:                e.tls,
		Protocol:                 2,
		DisableIdentity:          true,
		ContextTimeoutEnabled:    true,
		DialTimeout:              e.s.opts.DialTimeout,
		DialerRetries:            1,
		PoolSize:                 1,
		MaxIdleConns:             1,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}
