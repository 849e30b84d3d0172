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
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

const (
	// portAttempts is how many ports a node tries when the one it picked
	// was taken before the child could bind it.
	portAttempts = 4
	// readyTimeout bounds the wait for a started process to answer PING.
	readyTimeout = 10 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before SIGKILL.
	stopGrace = 5 * time.Second
	// logLines is how much of a log goes into an error or a failed test.
	logLines = 30
)

// errPortTaken reports that a child exited because its port was in use.
var errPortTaken = errors.New("port already in use")

// node is one redis-server or redis-sentinel on a loopback port that is
// chosen at the first start and kept across restarts. Its files (log,
// nodes.conf, sentinel.conf) live in its own folder. Methods are safe for
// concurrent use.
type node struct {
	name     string // folder and log name, and the subject of errors
	dir      string
	logPath  string
	bin      string // "redis-server" or "redis-sentinel"
	password string // for PING and the admin client; "" for none
	// args returns the command line for port; it may write files in dir.
	args func(dir string, port int) ([]string, error)

	mu     sync.Mutex
	port   int
	argv   []string // command line of the running or last process
	proc   *process
	admin  *redis.Client         // lazily created, closed by close
	sadmin *redis.SentinelClient // likewise, for a redis-sentinel
	closed bool
}

func newNode(root, name, bin, password string, args func(dir string, port int) ([]string, error)) (*node, error) {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("redistest: %s: %w", name, err)
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("redistest: %s not found in PATH (run make deps): %w", bin, err)
	}
	return &node{
		name: name, dir: dir, logPath: filepath.Join(dir, name+".log"),
		bin: path, password: password, args: args,
	}, nil
}

// addr returns host:port; it is empty before the first start.
func (n *node) addr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.addrLocked()
}

func (n *node) addrLocked() string {
	if n.port == 0 {
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(n.port))
}

// start picks a free port and starts the process on it, trying another
// port when the chosen one was taken meanwhile. It returns once the
// process answers PING. Errors do not include the log (see withLogs).
func (n *node) start(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	var err error
	for range portAttempts {
		var port int
		if port, err = freePort(); err != nil {
			return fmt.Errorf("redistest: %s: find a free port: %w", n.name, err)
		}
		var argv []string
		if argv, err = n.args(n.dir, port); err != nil {
			return fmt.Errorf("redistest: %s: %w", n.name, err)
		}
		n.port, n.argv = port, argv
		if err = n.launchLocked(ctx); !errors.Is(err, errPortTaken) {
			return err
		}
	}
	return err
}

// restart starts the process again with the same port and command line.
// It is a no-op while the process runs.
func (n *node) restart(ctx context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc != nil && !n.proc.exited() {
		return nil
	}
	return n.launchLocked(ctx)
}

func (n *node) launchLocked(ctx context.Context) error {
	if n.closed {
		return fmt.Errorf("redistest: %s: already closed", n.name)
	}
	var logStart int64 // only this start's lines tell why it failed
	if fi, err := os.Stat(n.logPath); err == nil {
		logStart = fi.Size()
	}
	p, err := startProcess(n.bin, n.argv, n.dir, n.logPath)
	if err != nil {
		return fmt.Errorf("redistest: start %s: %w", n.name, err)
	}
	n.proc = p
	addr := n.addrLocked()
	err = poll(ctx, readyTimeout, n.name+" to answer PING on "+addr, func(ctx context.Context) error {
		if p.exited() {
			return errExited
		}
		return ping(ctx, addr, n.password)
	})
	if err == nil {
		return nil
	}
	p.stop(0)
	if portTaken(n.logPath, logStart) {
		return fmt.Errorf("redistest: %s on %s: %w", n.name, addr, errPortTaken)
	}
	return err
}

// errExited stops a readiness poll: the process will not answer.
var errExited = errors.New("process exited")

// portTaken reports whether the log, from offset on, says that the port
// was in use.
func portTaken(logPath string, offset int64) bool {
	data, err := os.ReadFile(logPath)
	if err != nil || offset > int64(len(data)) {
		return false
	}
	return strings.Contains(strings.ToLower(string(data[offset:])), "address already in use")
}

// stop ends the process (see process.stop); the node can be restarted.
func (n *node) stop(grace time.Duration) {
	n.mu.Lock()
	p := n.proc
	n.mu.Unlock()
	if p != nil {
		p.stop(grace)
	}
}

// close kills the process and closes the admin client; the node cannot
// be started again.
func (n *node) close() {
	n.mu.Lock()
	n.closed = true
	p, c, sc := n.proc, n.admin, n.sadmin
	n.admin, n.sadmin = nil, nil
	n.mu.Unlock()
	if p != nil {
		p.stop(0)
	}
	if c != nil {
		_ = c.Close()
	}
	if sc != nil {
		_ = sc.Close()
	}
}

// running reports whether the process has been started and not exited.
func (n *node) running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.proc != nil && !n.proc.exited()
}

func (n *node) pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.proc == nil {
		return 0
	}
	return n.proc.pid()
}

// client returns the node's admin client: authenticated as the default
// user, no retries, so that polls see each failure.
func (n *node) client() *redis.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.admin == nil {
		n.admin = redis.NewClient(n.adminOptions())
	}
	return n.admin
}

// sentinelClient is client for a redis-sentinel.
func (n *node) sentinelClient() *redis.SentinelClient {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sadmin == nil {
		n.sadmin = redis.NewSentinelClient(n.adminOptions())
	}
	return n.sadmin
}

func (n *node) adminOptions() *redis.Options {
	return &redis.Options{
		Addr:                     n.addrLocked(),
		Password:                 n.password,
		MaxRetries:               -1,
		DialTimeout:              time.Second,
		ReadTimeout:              5 * time.Second,
		WriteTimeout:             5 * time.Second,
		PoolSize:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	}
}

// logTail returns the end of the node's log, headed by its path.
func (n *node) logTail() string {
	return fmt.Sprintf("last lines of %s:\n%s", n.logPath, tail(n.logPath, logLines))
}

// withLogs appends the end of the logs of nodes to err, for errors that
// end a start: the processes and their files are gone afterwards.
func withLogs(err error, nodes ...*node) error {
	var b strings.Builder
	for _, n := range nodes {
		b.WriteString("\n" + n.logTail())
	}
	return fmt.Errorf("%w%s", err, b.String())
}

// ping sends PING (after AUTH when password is set) on a fresh connection
// and expects PONG. It uses no client library, so that it works the same
// against redis-server and redis-sentinel and logs nothing.
func ping(ctx context.Context, addr, password string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	var req strings.Builder
	want := []string{}
	if password != "" {
		fmt.Fprintf(&req, "*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n", len(password), password)
		want = append(want, "+OK")
	}
	req.WriteString("*1\r\n$4\r\nPING\r\n")
	want = append(want, "+PONG")
	if _, err := conn.Write([]byte(req.String())); err != nil {
		return err
	}
	r := bufio.NewReader(conn)
	for _, w := range want {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if got := strings.TrimRight(line, "\r\n"); got != w {
			return fmt.Errorf("got %q, want %q", got, w)
		}
	}
	return nil
}
