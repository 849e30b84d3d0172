package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
)

// MasterAddr returns the master's address as the first Sentinel that
// answers reports it. It fails tb if none answers.
func (s *Sentinel) MasterAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := s.masterAddr(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

func (s *Sentinel) masterAddr(ctx context.Context) (string, error) {
	var errs []error
	for _, n := range s.sentinels {
		addr, err := s.askMaster(ctx, n)
		if err == nil {
			return addr, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("redistest: no Sentinel reports the master: %w", errors.Join(errs...))
}

// askMaster returns the master's address according to Sentinel n.
func (s *Sentinel) askMaster(ctx context.Context, n *node) (string, error) {
	hp, err := n.sentinelClient().GetMasterAddrByName(ctx, s.name).Result()
	if err != nil {
		return "", fmt.Errorf("%s: SENTINEL GET-MASTER-ADDR-BY-NAME: %w", n.addr(), err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("%s: SENTINEL GET-MASTER-ADDR-BY-NAME: got %q", n.addr(), hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Failover runs SENTINEL FAILOVER (retrying while the Sentinels know no
// replica fit to promote, as right after an earlier failover) and returns
// the new master's address once every Sentinel reports it, it has the
// role master and every running redis-server replicates it.
//
// Sentinel itself would leave the old master running as a master for 10 s
// or more before demoting it; Failover demotes it at once (REPLICAOF the
// new master), so that no write goes to it. The Sentinels may need a few
// seconds more to see it as a healthy replica, which a following
// StopMaster waits for, though more slowly.
func (s *Sentinel) Failover(tb testing.TB) string {
	tb.Helper()
	addr, err := s.failover(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

func (s *Sentinel) failover(ctx context.Context) (string, error) {
	old, err := s.masterAddr(ctx)
	if err != nil {
		return "", err
	}
	err = poll(ctx, sentinelTimeout, "a Sentinel to accept SENTINEL FAILOVER", func(ctx context.Context) error {
		var errs []error
		for _, n := range s.sentinels {
			err := n.sentinelClient().Failover(ctx, s.name).Err()
			if err == nil {
				return nil
			}
			errs = append(errs, fmt.Errorf("%s: %w", n.addr(), err))
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return "", err
	}
	addr, err := s.waitSwitch(ctx, old)
	if err != nil {
		return "", err
	}
	if n := s.dataNode(old); n != nil && n.running() {
		host, port, _ := net.SplitHostPort(addr)
		if err := n.client().ReplicaOf(ctx, host, port).Err(); err != nil {
			return "", fmt.Errorf("redistest: %s: REPLICAOF %s: %w", old, addr, err)
		}
	}
	return addr, s.waitReplicas(ctx, s.dataNode(addr))
}

// StopMaster kills the master, to make the Sentinels fail over on their
// own, and returns the new master's address once every Sentinel reports
// it, it has the role master and every running redis-server replicates
// it. That takes a few seconds (down-after-milliseconds is 1000). The old
// master stays down.
func (s *Sentinel) StopMaster(tb testing.TB) string {
	tb.Helper()
	addr, err := s.stopMaster(tb.Context())
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

func (s *Sentinel) stopMaster(ctx context.Context) (string, error) {
	old, err := s.masterAddr(ctx)
	if err != nil {
		return "", err
	}
	n := s.dataNode(old)
	if n == nil {
		return "", fmt.Errorf("redistest: the Sentinels report master %s, which is not ours", old)
	}
	n.stop(0)
	addr, err := s.waitSwitch(ctx, old)
	if err != nil {
		return "", err
	}
	return addr, s.waitReplicas(ctx, s.dataNode(addr))
}

// waitSwitch waits until every running Sentinel reports the same master,
// not old, with no failover in progress, and that master has the role
// master. It returns the new master's address.
func (s *Sentinel) waitSwitch(ctx context.Context, old string) (string, error) {
	var addr string
	err := poll(ctx, sentinelTimeout, "the Sentinels to replace master "+old, func(ctx context.Context) error {
		addr = ""
		for _, n := range s.sentinels {
			if !n.running() {
				continue
			}
			a, err := s.askMaster(ctx, n)
			if err != nil {
				return err
			}
			if a == old {
				return fmt.Errorf("%s still reports %s", n.addr(), old)
			}
			if addr != "" && a != addr {
				return fmt.Errorf("the Sentinels disagree: %s and %s", addr, a)
			}
			addr = a
			m, err := n.sentinelClient().Master(ctx, s.name).Result()
			if err != nil {
				return fmt.Errorf("%s: SENTINEL MASTER: %w", n.addr(), err)
			}
			if f := m["flags"]; f != "master" {
				return fmt.Errorf("%s: master flags %q", n.addr(), f)
			}
		}
		m := s.dataNode(addr)
		if m == nil {
			return fmt.Errorf("the Sentinels report master %s, which is not ours", addr)
		}
		return hasRole(ctx, m, "master")
	})
	return addr, err
}

// waitReplicas waits until every running redis-server but master is a
// replica of master with its link up.
func (s *Sentinel) waitReplicas(ctx context.Context, master *node) error {
	if master == nil {
		return errors.New("redistest: the master is not one of ours")
	}
	_, port, _ := net.SplitHostPort(master.addr())
	return poll(ctx, sentinelTimeout, "the replicas to sync with "+master.addr(), func(ctx context.Context) error {
		if err := hasRole(ctx, master, "master"); err != nil {
			return err
		}
		for _, n := range s.data {
			if n == master || !n.running() {
				continue
			}
			info, err := n.client().Info(ctx, "replication").Result()
			if err != nil {
				return fmt.Errorf("%s: INFO replication: %w", n.addr(), err)
			}
			for _, want := range []string{"role:slave", "master_port:" + port, "master_link_status:up"} {
				if !strings.Contains(info, want+"\r\n") {
					return fmt.Errorf("%s: INFO replication lacks %s", n.addr(), want)
				}
			}
		}
		return nil
	})
}

// waitSentinels waits until every Sentinel sees masterAddr as a healthy
// master, every running replica as a healthy replica of it, and every
// other Sentinel.
func (s *Sentinel) waitSentinels(ctx context.Context, masterAddr string) error {
	_, mport, _ := net.SplitHostPort(masterAddr)
	return poll(ctx, sentinelTimeout, "the Sentinels to see the master, its replicas and each other", func(ctx context.Context) error {
		for _, n := range s.sentinels {
			sc := n.sentinelClient()
			m, err := sc.Master(ctx, s.name).Result()
			if err != nil {
				return fmt.Errorf("%s: SENTINEL MASTER: %w", n.addr(), err)
			}
			if got := net.JoinHostPort(m["ip"], m["port"]); got != masterAddr || m["flags"] != "master" {
				return fmt.Errorf("%s: master %s with flags %q", n.addr(), got, m["flags"])
			}
			if got, want := m["num-other-sentinels"], fmt.Sprint(len(s.sentinels)-1); got != want {
				return fmt.Errorf("%s knows %s other Sentinels, want %s", n.addr(), got, want)
			}
			replicas, err := sc.Replicas(ctx, s.name).Result()
			if err != nil {
				return fmt.Errorf("%s: SENTINEL REPLICAS: %w", n.addr(), err)
			}
			healthy := map[string]bool{}
			for _, r := range replicas {
				if r["flags"] == "slave" && r["master-link-status"] == "ok" && r["master-port"] == mport {
					healthy[net.JoinHostPort(r["ip"], r["port"])] = true
				}
			}
			for _, d := range s.data {
				if a := d.addr(); a != masterAddr && d.running() && !healthy[a] {
					return fmt.Errorf("%s does not see %s as a healthy replica", n.addr(), a)
				}
			}
		}
		return nil
	})
}

// hasRole checks the role (master or slave) that n reports in ROLE.
func hasRole(ctx context.Context, n *node, role string) error {
	r, err := n.client().Do(ctx, "ROLE").Slice()
	if err != nil {
		return fmt.Errorf("%s: ROLE: %w", n.addr(), err)
	}
	if len(r) == 0 || r[0] != role {
		return fmt.Errorf("%s: role %v, want %s", n.addr(), r, role)
	}
	return nil
}

// dataNode returns the redis-server at addr, or nil.
func (s *Sentinel) dataNode(addr string) *node {
	for _, n := range s.data {
		if n.addr() == addr {
			return n
		}
	}
	return nil
}
