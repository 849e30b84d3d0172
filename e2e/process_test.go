package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// buildGateway builds cmd/pushscale with the Dockerfile's flags (static,
// -trimpath, version stamped; the same build as cmd/pushscale's image test,
// so the build cache serves both).
func buildGateway(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "pushscale")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/pushscale/pushscale/version.Version=v0.0.0-test", "-o", out, "./cmd/pushscale")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/pushscale: %v\n%s", err, b)
	}
	return out
}

// gatewayProcess is the gateway binary run as a child of the test, for
// what an in-process gateway cannot show (its flags and environment, a
// SIGKILL). It dies with the test process however that ends, is stopped
// with SIGTERM when the test ends, and its log is printed if the test
// failed (PUSHSCALE_E2E_LOG=1: as it goes).
type gatewayProcess struct {
	name             string
	webhook, metrics string // http://127.0.0.1:<port>
	metricsAPIPort   int
	logs             *syncBuffer

	cmd      *exec.Cmd
	done     chan error
	stopOnce sync.Once
}

// startGatewayProcess runs binary with args and env (nothing is inherited);
// webhookPort, metricsPort and metricsAPIPort are the ports args give it.
func startGatewayProcess(t *testing.T, name, binary string, args, env []string, webhookPort, metricsPort, metricsAPIPort int) *gatewayProcess {
	t.Helper()
	logs := &syncBuffer{}
	var out io.Writer = logs
	if os.Getenv("PUSHSCALE_E2E_LOG") != "" {
		out = io.MultiWriter(logs, os.Stderr)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProcess{
		name: name, webhook: fmt.Sprintf("http://127.0.0.1:%d", webhookPort), metrics: fmt.Sprintf("http://127.0.0.1:%d", metricsPort),
		metricsAPIPort: metricsAPIPort, logs: logs, cmd: cmd, done: make(chan error, 1),
	}
	go func() { g.done <- cmd.Wait() }()
	t.Cleanup(func() {
		g.term(t)
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, tail(logs.String(), 60))
		}
	})
	return g
}

// kill sends SIGKILL and waits for the process to end.
func (g *gatewayProcess) kill(t *testing.T) {
	t.Helper()
	g.stopOnce.Do(func() {
		_ = g.cmd.Process.Kill()
		<-g.done
	})
}

// term sends SIGTERM and waits for a clean exit (once: after kill or an
// earlier term it does nothing).
func (g *gatewayProcess) term(t *testing.T) {
	t.Helper()
	g.stopOnce.Do(func() {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-g.done:
			if err != nil {
				t.Errorf("%s stopped with %v after SIGTERM", g.name, err)
			}
		case <-time.After(time.Minute):
			_ = g.cmd.Process.Kill()
			t.Errorf("%s did not stop within a minute of SIGTERM", g.name)
		}
	})
}

// postLevel sets a stream's level through g's webhook listener.
func (g *gatewayProcess) postLevel(t *testing.T, ns, stream string, value int) {
	t.Helper()
	eventually(t, shortWait, fmt.Sprintf("%s to accept %d for %s/%s", g.name, value, ns, stream), func() (bool, error) {
		resp, err := http.Post(g.webhook+"/v1/namespaces/"+ns+"/streams/"+stream, "application/json", strings.NewReader(fmt.Sprintf(`{"value": %d}`, value)))
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusAccepted, fmt.Errorf("%d %s", resp.StatusCode, b)
	})
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}
