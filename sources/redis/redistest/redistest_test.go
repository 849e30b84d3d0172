package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// childEnv, when set, makes the test binary start a server, print its pid
// and wait to be killed (see TestServerDiesWithTestProcess).
const childEnv = "REDISTEST_CHILD"

func TestMain(m *testing.M) {
	code := m.Run()
	if kids := children(); len(kids) > 0 && os.Getenv(childEnv) == "" {
		fmt.Fprintf(os.Stderr, "redistest: processes left running: %v\n", kids)
		code = 1
	}
	os.Exit(code)
}

// children returns the pids of this process's live children.
func children() []string {
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	var pids []string
	for _, t := range tasks {
		data, _ := os.ReadFile(t)
		pids = append(pids, strings.Fields(string(data))...)
	}
	return pids
}

func TestServerAnswersPingOnLoopbackOnly(t *testing.T) {
	t.Parallel()
	s := StartServer(t, ServerOptions{})
	ctx := t.Context()
	if err := s.Client().Ping(ctx).Err(); err != nil {
		t.Fatalf("PING: %v", err)
	}
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "6379" {
		t.Fatalf("Addr() = %q, want 127.0.0.1 and a port other than 6379", s.Addr())
	}
	bind, err := s.Client().ConfigGet(ctx, "bind").Result()
	if err != nil || bind["bind"] != "127.0.0.1" {
		t.Errorf("CONFIG GET bind = %v, %v; want 127.0.0.1", bind, err)
	}
	p, _ := strconv.Atoi(port)
	if got := listeners(t, p); !slices.Equal(got, []string{"0100007F"}) {
		t.Errorf("sockets listening on port %d: %v, want only 127.0.0.1 (0100007F)", p, got)
	}
}

// listeners returns the local addresses, as /proc/net/tcp{,6} spells them,
// of the sockets listening on port.
func listeners(t *testing.T, port int) []string {
	var addrs []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(file)
		if err != nil {
			t.Fatalf("cannot list sockets: %v", err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())       // sl local_address rem_address st ...
			if len(fields) < 4 || fields[3] != "0A" { // 0A: LISTEN
				continue
			}
			ip, hexPort, _ := strings.Cut(fields[1], ":")
			if p, err := strconv.ParseInt(hexPort, 16, 32); err == nil && int(p) == port {
				addrs = append(addrs, ip)
			}
		}
		f.Close()
	}
	return addrs
}

func TestServerNotifyKeyspaceEvents(t *testing.T) {
	t.Parallel()
	s := StartServer(t, ServerOptions{NotifyKeyspaceEvents: "KEA"})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	cfg, err := s.Client().ConfigGet(ctx, "notify-keyspace-events").Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := sortedChars(cfg["notify-keyspace-events"]); got != "AEK" {
		t.Errorf("notify-keyspace-events = %q, want the flags A, K and E", cfg["notify-keyspace-events"])
	}
	ps := s.Client().PSubscribe(ctx, "__keyspace@0__:queue")
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	if err := s.Client().RPush(ctx, "queue", "item").Err(); err != nil {
		t.Fatal(err)
	}
	msg, err := ps.ReceiveMessage(ctx)
	if err != nil || msg.Payload != "rpush" {
		t.Fatalf("keyspace notification = %v, %v; want rpush", msg, err)
	}
}

func sortedChars(s string) string {
	b := []byte(s)
	slices.Sort(b)
	return string(b)
}

func TestServerPasswordAndACLs(t *testing.T) {
	t.Parallel()
	s := StartServer(t, ServerOptions{
		Password: "default-secret",
		ACLs:     []string{"alice on >alice-secret ~* &* +@all"},
	})
	ctx := t.Context()
	if err := s.Client().Ping(ctx).Err(); err != nil {
		t.Fatalf("PING as default user: %v", err)
	}
	tests := []struct {
		name, user, password string
		wantErr              string
	}{
		{name: "NoPassword", wantErr: "NOAUTH"},
		{name: "WrongPassword", password: "nope", wantErr: "WRONGPASS"},
		{name: "ACLUser", user: "alice", password: "alice-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: tt.user, Password: tt.password, MaxRetries: -1})
			defer c.Close()
			err := c.Ping(ctx).Err()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("PING = %v, want error %q", err, tt.wantErr)
			}
		})
	}
}

func TestServerStopRestart(t *testing.T) {
	t.Parallel()
	s := StartServer(t, ServerOptions{})
	ctx := t.Context()
	addr, pid := s.Addr(), s.Pid()
	if err := s.Client().Set(ctx, "before", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("after Stop, kill(%d, 0) = %v, want ESRCH", pid, err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("after Stop, %s still accepts connections", addr)
	}

	if err := s.Restart(); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if s.Addr() != addr || s.Pid() == pid {
		t.Errorf("after Restart: Addr() = %s, Pid() = %d; want %s and a new pid (not %d)", s.Addr(), s.Pid(), addr, pid)
	}
	if err := s.Client().Get(ctx, "before").Err(); !errors.Is(err, redis.Nil) {
		t.Errorf("GET before = %v after Restart, want redis.Nil: nothing is persisted", err)
	}
	if err := s.Client().Set(ctx, "after", "2", 0).Err(); err != nil {
		t.Errorf("SET through the same Client after Restart: %v", err)
	}
}

func TestNewServerCloseRemovesEverything(t *testing.T) {
	t.Parallel()
	s, err := NewServer(t.Context(), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client().Ping(t.Context()).Err(); err != nil {
		t.Errorf("PING: %v", err)
	}
	pid, root := s.Pid(), s.root
	s.Close()
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("after Close, kill(%d, 0) = %v, want ESRCH", pid, err)
	}
	if _, err := os.Stat(root); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close, %s: %v; want it removed", root, err)
	}
	if err := s.Restart(); err == nil {
		t.Error("Restart after Close succeeded, want an error")
	}
}

func TestServerDiesWithTestProcess(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		s := StartServer(t, ServerOptions{})
		fmt.Printf("PID %d\n", s.Pid())
		time.Sleep(time.Minute) // killed by the parent long before
		return
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServerDiesWithTestProcess$", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var pid int
	sc := bufio.NewScanner(out)
	for pid == 0 && sc.Scan() {
		fmt.Sscanf(sc.Text(), "PID %d", &pid)
	}
	if pid == 0 {
		t.Fatal("the child test printed no PID")
	}
	_ = cmd.Process.Signal(syscall.SIGKILL) // as a test timeout or a crash would
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("redis-server %d outlived the killed test process", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs; a zombie waiting for its reaper is dead.
func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(data), ") ") // after "pid (comm) "
	return !strings.HasPrefix(rest, "Z")
}

func TestCluster(t *testing.T) {
	t.Parallel()
	start := time.Now()
	c := StartCluster(t, ClusterOptions{NotifyKeyspaceEvents: "Kl"})
	t.Logf("3+3 cluster ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()
	if n, p := len(c.Addrs()), len(c.PrimaryAddrs()); n != 6 || p != 3 {
		t.Fatalf("%d nodes with %d primaries, want 6 with 3", n, p)
	}
	for _, addr := range c.Addrs() {
		node := plainClient(t, addr, "")
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil || !strings.Contains(info, "cluster_state:ok") {
			t.Errorf("%s: CLUSTER INFO = %q, %v; want cluster_state:ok", addr, info, err)
		}
		cfg, err := node.ConfigGet(ctx, "notify-keyspace-events").Result()
		if got := cfg["notify-keyspace-events"]; sortedChars(got) != "Kl" {
			t.Errorf("%s: notify-keyspace-events = %q, %v; want the flags K and l", addr, got, err)
		}
	}
	const key = "queue"
	if err := c.Client().Set(ctx, key, "v1", 0).Err(); err != nil {
		t.Fatalf("SET through the cluster client: %v", err)
	}
	if got, err := plainClient(t, c.NodeFor(key), "").Get(ctx, key).Result(); got != "v1" {
		t.Fatalf("GET %s on NodeFor(%[1]q) = %s: %q, %v; want v1", key, c.NodeFor(key), got, err)
	}

	t.Run("SlotOf", func(t *testing.T) {
		for _, k := range []string{"queue", "", "{user1000}.following", "{user1000}.followers", "foo{}{bar}", "foo{{bar}}zap", "a{b"} {
			want, err := c.Client().ClusterKeySlot(ctx, k).Result()
			if err != nil {
				t.Fatal(err)
			}
			if got := c.SlotOf(k); got != int(want) {
				t.Errorf("SlotOf(%q) = %d, want %d (CLUSTER KEYSLOT)", k, got, want)
			}
		}
	})

	t.Run("Failover", func(t *testing.T) {
		old := c.NodeFor(key)
		start := time.Now()
		promoted := c.Failover(t, old)
		t.Logf("failover in %v", time.Since(start).Round(time.Millisecond))
		if promoted == old || !slices.Contains(c.PrimaryAddrs(), promoted) || slices.Contains(c.PrimaryAddrs(), old) {
			t.Fatalf("Failover(%s) = %s; PrimaryAddrs() = %v", old, promoted, c.PrimaryAddrs())
		}
		if err := hasRole(ctx, nodeAt(t, c, promoted), "master"); err != nil {
			t.Error(err)
		}
		if err := hasRole(ctx, nodeAt(t, c, old), "slave"); err != nil {
			t.Error(err)
		}
		if got, err := c.Client().Get(ctx, key).Result(); got != "v1" {
			t.Errorf("GET %s after Failover = %q, %v; want v1", key, got, err)
		}
	})

	t.Run("MoveSlot", func(t *testing.T) {
		// More keys in the slot than one MIGRATE moves.
		tag := "{" + key + "}"
		for i := range 2*migrateBatch + 1 {
			if err := c.Client().Set(ctx, fmt.Sprintf("%s:%d", tag, i), i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		from, slot := c.NodeFor(key), c.SlotOf(key)
		to := c.PrimaryAddrs()[0]
		if to == from {
			to = c.PrimaryAddrs()[1]
		}
		start := time.Now()
		c.MoveSlot(t, slot, to)
		t.Logf("slot with %d keys moved in %v", 2*migrateBatch+2, time.Since(start).Round(time.Millisecond))
		if got := c.NodeFor(key); got != to {
			t.Fatalf("NodeFor(%q) = %s after MoveSlot to %s", key, got, to)
		}
		if n, err := plainClient(t, to, "").ClusterCountKeysInSlot(ctx, slot).Result(); n != 2*migrateBatch+2 {
			t.Errorf("%s holds %d keys of slot %d (%v), want %d", to, n, slot, err, 2*migrateBatch+2)
		}
		if got, err := plainClient(t, to, "").Get(ctx, key).Result(); got != "v1" {
			t.Errorf("GET %s on %s = %q, %v; want v1", key, to, got, err)
		}
		if got, err := c.Client().Get(ctx, key).Result(); got != "v1" {
			t.Errorf("GET %s through the cluster client = %q, %v; want v1", key, got, err)
		}
	})
}

func TestNewClusterWithPasswordAndNoReplicas(t *testing.T) {
	t.Parallel()
	const password = "cluster-secret"
	c, err := NewCluster(t.Context(), ClusterOptions{Primaries: 2, ReplicasPerPrimary: -1, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	ctx := t.Context()
	if n := len(c.Addrs()); n != 2 {
		t.Fatalf("%d nodes, want 2", n)
	}
	if err := c.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	to := c.PrimaryAddrs()[0]
	if to == c.NodeFor("k") {
		to = c.PrimaryAddrs()[1]
	}
	if err := c.moveSlot(ctx, c.SlotOf("k"), to); err != nil { // MIGRATE must authenticate
		t.Fatal(err)
	}
	if got, err := plainClient(t, to, password).Get(ctx, "k").Result(); got != "v" {
		t.Errorf("GET k on %s = %q, %v; want v", to, got, err)
	}
	if err := plainClient(t, to, "").Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("PING without password = %v, want NOAUTH", err)
	}
}

func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	start := time.Now()
	s := StartSentinel(t, SentinelOptions{})
	t.Logf("master, replica and 3 Sentinels ready in %v", time.Since(start).Round(time.Millisecond))
	ctx := t.Context()
	if s.MasterName() != "mymaster" || len(s.SentinelAddrs()) != 3 {
		t.Errorf("MasterName() = %q, %d Sentinels; want mymaster and 3", s.MasterName(), len(s.SentinelAddrs()))
	}
	old := s.MasterAddr(t)
	if err := hasRole(ctx, s.dataNode(old), "master"); err != nil {
		t.Fatal(err)
	}
	if err := s.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET through the failover client: %v", err)
	}

	start = time.Now()
	promoted := s.Failover(t)
	t.Logf("failover in %v", time.Since(start).Round(time.Millisecond))
	if promoted == old || s.MasterAddr(t) != promoted {
		t.Fatalf("Failover() = %s, MasterAddr() = %s; want a new master (was %s)", promoted, s.MasterAddr(t), old)
	}
	if err := hasRole(ctx, s.dataNode(promoted), "master"); err != nil {
		t.Error(err)
	}
	if err := hasRole(ctx, s.dataNode(old), "slave"); err != nil {
		t.Error(err)
	}
	eventually(t, "the failover client to write to the new master", func() error {
		return s.Client().Set(ctx, "k2", "v2", 0).Err()
	})
	if got, err := plainClient(t, promoted, "").Get(ctx, "k").Result(); got != "v" {
		t.Errorf("GET k on the new master = %q, %v; want v", got, err)
	}
}

func TestSentinelStopMaster(t *testing.T) {
	t.Parallel()
	const password = "sentinel-secret"
	s := StartSentinel(t, SentinelOptions{MasterName: "queues", Replicas: 2, Password: password})
	ctx := t.Context()
	old := s.MasterAddr(t)
	start := time.Now()
	promoted := s.StopMaster(t)
	t.Logf("automatic failover in %v", time.Since(start).Round(time.Millisecond))
	if promoted == old || s.MasterAddr(t) != promoted {
		t.Fatalf("StopMaster() = %s, MasterAddr() = %s; want a new master (was %s)", promoted, s.MasterAddr(t), old)
	}
	if s.dataNode(old).running() {
		t.Errorf("the old master %s still runs", old)
	}
	eventually(t, "the failover client to write to the new master", func() error {
		return s.Client().Set(ctx, "k", "v", 0).Err()
	})
	if got, err := plainClient(t, promoted, password).Get(ctx, "k").Result(); got != "v" {
		t.Errorf("GET k on the new master = %q, %v; want v", got, err)
	}
}

// plainClient returns a client of the one node at addr, closed when the
// test ends.
func plainClient(t *testing.T, addr, password string) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func nodeAt(t *testing.T, c *Cluster, addr string) *node {
	i := slices.IndexFunc(c.nodes, func(n *node) bool { return n.addr() == addr })
	if i < 0 {
		t.Fatalf("no node at %s", addr)
	}
	return c.nodes[i]
}

// eventually retries f for up to 10 seconds.
func eventually(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPortTakenIsDetected(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	n, err := newNode(t.TempDir(), "redis", "redis-server", "", dataConfig{}.args(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer n.close()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.port = l.Addr().(*net.TCPAddr).Port
	if n.argv, err = n.args(n.dir, n.port); err != nil {
		t.Fatal(err)
	}
	if err := n.launchLocked(t.Context()); !errors.Is(err, errPortTaken) {
		t.Errorf("starting on a taken port: %v, want errPortTaken", err)
	}
}

func TestStartErrorsCarryTheLog(t *testing.T) {
	t.Parallel()
	_, err := NewServer(t.Context(), ServerOptions{ACLs: []string{"bob on +@no-such-category"}})
	if err == nil || !strings.Contains(err.Error(), "last lines of") || !strings.Contains(err.Error(), "no-such-category") {
		t.Errorf("NewServer with a bad ACL = %v, want an error with the end of the log", err)
	}
}
