package controlplane

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// process is one child of the control plane. Its output goes to a log file
// in the run directory.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // exit status, valid after done
}

// spawner starts children from one goroutine locked to its OS thread for
// the life of the process. Children are started with Pdeathsig, which the
// kernel delivers when the *thread* that forked them exits; a thread that
// never exits makes that "when this process exits", however it exits
// (a panic, a test timeout, SIGKILL).
var spawner = func() chan func() {
	ch := make(chan func())
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		for fn := range ch {
			fn()
		}
	}()
	return ch
}()

// startProcess starts bin with args in its own process group, logging to
// dir/<name>.log, and records its pid in dir/pids so that a later run can
// clean up after an interrupted one.
func startProcess(dir, name, bin string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("controlplane: %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	spawner <- func() { errc <- cmd.Start() }
	if err := <-errc; err != nil {
		logf.Close()
		return nil, fmt.Errorf("controlplane: start %s (%s): %w", name, bin, err)
	}
	if err := appendLine(filepath.Join(dir, "pids"), fmt.Sprint(cmd.Process.Pid)); err != nil {
		_ = cmd.Process.Kill()
		logf.Close()
		return nil, fmt.Errorf("controlplane: %w", err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last n lines of the process's log.
func (p *process) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// failure describes an unexpected exit, with the end of the log.
func (p *process) failure() error {
	return fmt.Errorf("controlplane: %s exited: %v; last lines of %s:\n%s", p.name, p.err, p.logPath, p.tail(30))
}

// bindFailed reports whether the process exited because its port was taken.
func (p *process) bindFailed() bool {
	return p.exited() && strings.Contains(p.tail(50), "address already in use")
}

func appendLine(path, line string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(line + "\n")
	return errors.Join(err, f.Close())
}
