package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"testing"
)

// migrateBatch is how many keys one MIGRATE moves.
const migrateBatch = 100

// errNotPrimary is returned for an address that is not a primary.
var errNotPrimary = errors.New("not a primary of the cluster")

// Failover promotes a replica of the primary at primaryAddr with CLUSTER
// FAILOVER (coordinated: the replica catches up before it takes over, so
// no acknowledged write is lost) and returns the replica's address once
// it serves the old primary's slots, the old primary is its replica and
// the cluster is stable. It fails tb on error.
func (c *Cluster) Failover(tb testing.TB, primaryAddr string) string {
	tb.Helper()
	addr, err := c.failover(tb.Context(), primaryAddr)
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

func (c *Cluster) failover(ctx context.Context, primaryAddr string) (string, error) {
	view := c.currentView()
	old, ok := nodeByAddr(view, primaryAddr)
	if !ok || !old.primary() {
		return "", fmt.Errorf("redistest: Failover(%q): %w", primaryAddr, errNotPrimary)
	}
	i := slices.IndexFunc(view, func(v clusterNode) bool { return v.masterID == old.id })
	if i < 0 {
		return "", fmt.Errorf("redistest: Failover(%q): the primary has no replica", primaryAddr)
	}
	replica := view[i]
	n := c.node(replica.addr)
	if err := n.client().ClusterFailover(ctx).Err(); err != nil {
		return "", c.nodeErr(n, "CLUSTER FAILOVER", err)
	}
	what := fmt.Sprintf("%s to take over from %s", replica.addr, primaryAddr)
	_, err := c.settle(ctx, what, func(view []clusterNode) error {
		nv, _ := nodeByAddr(view, replica.addr)
		ov, _ := nodeByAddr(view, primaryAddr)
		if !nv.primary() || !slices.Equal(nv.slots, old.slots) {
			return fmt.Errorf("%s does not yet serve the slots of %s", replica.addr, primaryAddr)
		}
		if ov.primary() || ov.masterID != nv.id {
			return fmt.Errorf("%s is not yet a replica of %s", primaryAddr, replica.addr)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return replica.addr, nil
}

// MoveSlot moves slot, with its keys, to the primary at toPrimaryAddr,
// the way redis-cli reshards: CLUSTER SETSLOT IMPORTING on the target and
// MIGRATING on the source, MIGRATE of the keys in batches, then CLUSTER
// SETSLOT NODE on every primary (replicas learn it from them). It returns
// once every node agrees on the new owner and the cluster is stable.
// Clients keep working meanwhile, following ASK and MOVED redirections.
// It does nothing if the slot is already there; it fails tb on error.
func (c *Cluster) MoveSlot(tb testing.TB, slot int, toPrimaryAddr string) {
	tb.Helper()
	if err := c.moveSlot(tb.Context(), slot, toPrimaryAddr); err != nil {
		tb.Fatal(err)
	}
}

func (c *Cluster) moveSlot(ctx context.Context, slot int, toAddr string) error {
	if slot < 0 || slot >= numSlots {
		return fmt.Errorf("redistest: MoveSlot: slot %d: must be in [0, %d)", slot, numSlots)
	}
	view := c.currentView()
	dst, ok := nodeByAddr(view, toAddr)
	if !ok || !dst.primary() {
		return fmt.Errorf("redistest: MoveSlot(%d, %q): %w", slot, toAddr, errNotPrimary)
	}
	src, ok := slotOwner(view, slot)
	if !ok {
		return fmt.Errorf("redistest: MoveSlot(%d): no primary serves the slot", slot)
	}
	if src.id == dst.id {
		return nil
	}
	sn, dn := c.node(src.addr), c.node(dst.addr)
	if err := dn.client().Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", src.id).Err(); err != nil {
		return c.nodeErr(dn, "CLUSTER SETSLOT IMPORTING", err)
	}
	if err := sn.client().Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dst.id).Err(); err != nil {
		return c.nodeErr(sn, "CLUSTER SETSLOT MIGRATING", err)
	}
	if err := c.migrateKeys(ctx, sn, slot, dst.addr); err != nil {
		return err
	}
	// Target first, then source, as redis-cli does: the target must own the
	// slot before the source stops redirecting to it.
	order := []*node{dn, sn}
	for _, v := range view {
		if v.primary() && v.id != src.id && v.id != dst.id {
			order = append(order, c.node(v.addr))
		}
	}
	for _, n := range order {
		if err := n.client().Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dst.id).Err(); err != nil {
			return c.nodeErr(n, "CLUSTER SETSLOT NODE", err)
		}
	}
	what := fmt.Sprintf("slot %d to move from %s to %s", slot, src.addr, dst.addr)
	_, err := c.settle(ctx, what, func(view []clusterNode) error {
		if owner, _ := slotOwner(view, slot); owner.id != dst.id {
			return fmt.Errorf("slot %d is still served by %s", slot, owner.addr)
		}
		return nil
	})
	return err
}

// migrateKeys moves every key of slot from src to the node at dstAddr.
func (c *Cluster) migrateKeys(ctx context.Context, src *node, slot int, dstAddr string) error {
	host, port, err := net.SplitHostPort(dstAddr)
	if err != nil {
		return fmt.Errorf("redistest: MoveSlot: %w", err)
	}
	for {
		keys, err := src.client().ClusterGetKeysInSlot(ctx, slot, migrateBatch).Result()
		if err != nil {
			return c.nodeErr(src, "CLUSTER GETKEYSINSLOT", err)
		}
		if len(keys) == 0 {
			return nil
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000}
		if c.password != "" {
			args = append(args, "AUTH", c.password)
		}
		args = append(args, "KEYS")
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.client().Do(ctx, args...).Err(); err != nil {
			return c.nodeErr(src, "MIGRATE", err)
		}
	}
}

// currentView returns the topology recorded by the last settle.
func (c *Cluster) currentView() []clusterNode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.view
}

// node returns the node at addr; addr comes from a view of this cluster.
func (c *Cluster) node(addr string) *node {
	for _, n := range c.nodes {
		if n.addr() == addr {
			return n
		}
	}
	panic("redistest: no node at " + addr) // a view only holds our nodes
}
