package e2e

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushscale/pushscale/e2e/controlplane"
)

// childEnv, when set, makes this test binary play an interrupted run: it
// starts a control plane under the runs root named by the variable, prints
// its run directory and pids, and waits to be killed.
const childEnv = "PUSHSCALE_E2E_INTERRUPTED_CHILD"

func TestInterruptedChild(t *testing.T) {
	root := os.Getenv(childEnv)
	if root == "" {
		t.Skip("only run as the child of TestInterruptedRunLeavesNothing")
	}
	cp, err := controlplane.Start(context.Background(), controlplane.Options{RunsRoot: root, WithoutControllerManager: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("DIR %s\n", cp.Dir)
	for _, pid := range cp.Pids() {
		fmt.Printf("PID %d\n", pid)
	}
	fmt.Println("READY")
	time.Sleep(10 * time.Minute) // killed by the parent long before
}

// TestInterruptedRunLeavesNothing kills a test process that runs a control
// plane with SIGKILL (as a timeout or a crash would) and checks that its
// children die with it and that the next start removes its run directory.
func TestInterruptedRunLeavesNothing(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestInterruptedChild$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), childEnv+"="+root)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var dir string
	var pids []int
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if d, ok := strings.CutPrefix(line, "DIR "); ok {
			dir = d
		}
		if p, ok := strings.CutPrefix(line, "PID "); ok {
			n, _ := strconv.Atoi(p)
			pids = append(pids, n)
		}
		if line == "READY" {
			break
		}
	}
	if dir == "" || len(pids) != 2 {
		t.Fatalf("child did not report its run (dir %q, pids %v)", dir, pids)
	}
	for _, pid := range pids {
		assertLoopbackOnly(t, pid)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	eventually(t, shortWait, "the children of the killed run to exit", func() (bool, error) {
		for _, pid := range pids {
			if alive(pid) {
				return false, fmt.Errorf("pid %d still runs", pid)
			}
		}
		return true, nil
	})
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("run directory should remain until the next start: %v", err)
	}
	removed, err := controlplane.CleanLeftovers(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != dir {
		t.Fatalf("CleanLeftovers removed %v, want [%s]", removed, dir)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("run directory %s still exists: %v", dir, err)
	}
}

// TestControlPlaneListensOnLoopbackOnly checks every listening socket of
// the shared control plane's processes.
func TestControlPlaneListensOnLoopbackOnly(t *testing.T) {
	pids := env.cp.Pids()
	if len(pids) != 3 {
		t.Fatalf("want 3 processes, got %v", pids)
	}
	for _, pid := range pids {
		assertLoopbackOnly(t, pid)
	}
}

// TestLiveRunIsNotCleaned checks that a start never removes the run of a
// process that is still alive (this one's).
func TestLiveRunIsNotCleaned(t *testing.T) {
	if _, err := controlplane.CleanLeftovers(filepath.Dir(env.cp.Dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(env.cp.Kubeconfig); err != nil {
		t.Fatalf("the live run was cleaned: %v", err)
	}
	if err := env.cp.Err(); err != nil {
		t.Fatal(err)
	}
}

func alive(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; it only waits for its parent to reap it.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || !strings.HasPrefix(s[i+1:], " Z")
}

// assertLoopbackOnly fails t if process pid listens on a TCP address that
// is not loopback. It maps the process's socket inodes to /proc/net/tcp{,6}.
func assertLoopbackOnly(t *testing.T, pid int) {
	t.Helper()
	inodes := map[string]bool{}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("pid %d: %v", pid, err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	listening := 0
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || f[3] != "0A" || !inodes[f[9]] { // 0A = LISTEN
				continue
			}
			listening++
			ip := procIP(f[1][:strings.IndexByte(f[1], ':')])
			if ip == nil || !ip.IsLoopback() {
				t.Errorf("pid %d listens on %s (%v), not loopback", pid, f[1], ip)
			}
		}
	}
	if listening == 0 {
		t.Errorf("pid %d has no listening socket; the check saw nothing", pid)
	}
}

// procIP decodes an address of /proc/net/tcp: hex, 32-bit words in host
// (little-endian) order.
func procIP(h string) net.IP {
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil
	}
	for i := 0; i+4 <= len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b)
}
