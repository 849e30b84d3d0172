package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// spawner returns the channel of the goroutine that starts every child.
// That goroutine is locked to its OS thread and never returns, so the
// thread lives as long as the process. This matters because Pdeathsig is
// delivered when the thread that forked the child exits, not the process:
// forking from an ordinary goroutine could kill a child as soon as the Go
// runtime retires that thread.
var spawner = sync.OnceValue(func() chan<- func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked
		for fn := range ch {
			fn()
		}
	}()
	return ch
})

// process is one running child. Its stdout and stderr go to logPath.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the child has exited and been reaped
}

// startProcess starts bin with args in its own process group, appending
// its output to logPath. The child is killed if this process dies.
func startProcess(bin string, args []string, dir, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	spawner() <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		logf.Close()
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() { // ends when the child exits; every owner of a process kills it
		_ = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the child has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the child's process group and waits for it to
// exit, sending SIGKILL after grace. A zero grace kills at once.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	if grace > 0 {
		_ = syscall.Kill(-p.pid(), syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
	}
	_ = syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
}

// defaultRedisPort is never handed out: a machine's own Redis may use it.
const defaultRedisPort = 6379

// freePort returns a loopback port that was free a moment ago. Another
// process may take it before the child binds it; callers retry on that.
func freePort() (int, error) {
	for range 2 { // the second listener cannot get the same port
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer l.Close()
		if port := l.Addr().(*net.TCPAddr).Port; port != defaultRedisPort {
			return port, nil
		}
	}
	return 0, fmt.Errorf("got port %d twice", defaultRedisPort)
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
