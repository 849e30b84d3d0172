package sourcetest

import (
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// Daemon is the part that a database's or broker's test Server shares: its
// Process, and the temporary directory of its data and log, which Close
// removes. A Server embeds it, starts the process with Launch (or
// Process.Start) and restarts it with Stop and its own Start.
type Daemon struct {
	Process
	// Dir holds the server's data and log.
	Dir  string
	stop syscall.Signal
	cred *syscall.Credential
	port int
	pw   string
}

// NewDaemon makes the temporary directory of a server (named pattern, as
// os.MkdirTemp does); stop is the signal that stops the server.
func NewDaemon(pattern string, stop syscall.Signal) (*Daemon, error) {
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		return nil, err
	}
	return &Daemon{Dir: dir, stop: stop}, nil
}

// KeepPort chooses the server's TCP port on 127.0.0.1 (free then) at the
// first call; later calls keep it, so that a restarted server listens
// where it did.
func (d *Daemon) KeepPort() error {
	if d.port != 0 {
		return nil
	}
	p, err := FreePort()
	d.port = p
	return err
}

// Port is the server's TCP port (see KeepPort); Addr its host:port.
func (d *Daemon) Port() int    { return d.port }
func (d *Daemon) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port)) }

// Unprivileged opens Dir to every user and hands it to the user the
// server runs as: see Unprivileged.
func (d *Daemon) Unprivileged() error {
	if err := os.Chmod(d.Dir, 0o755); err != nil {
		return err
	}
	cred, err := Unprivileged(d.Dir)
	d.cred = cred
	return err
}

// Command returns the command name args of the server: run in Dir, as the
// user Unprivileged chose, with env and HOME=Dir as its environment.
func (d *Daemon) Command(env []string, name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = d.Dir
	cmd.Env = append(slices.Clip(env), "HOME="+d.Dir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: d.cred}
	return cmd
}

// Launch starts cmd with its output appended to the file log in Dir, then
// waits for ready as Process.Start does.
func (d *Daemon) Launch(cmd *exec.Cmd, log string, ready func() error, timeout time.Duration) error {
	logPath := filepath.Join(d.Dir, log)
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	return d.Process.Start(cmd, ready, timeout, logPath)
}

// Stop stops the server with its signal and waits for it to exit.
func (d *Daemon) Stop() { d.Process.Stop(d.stop) }

// Close stops the server and removes its directory.
func (d *Daemon) Close() {
	d.Stop()
	_ = os.RemoveAll(d.Dir)
}

// NewPassword sets and returns a random password of the server's user that
// starts with prefix; Password returns it ("" before).
func (d *Daemon) NewPassword(prefix string) string {
	d.pw = Password(prefix)
	return d.pw
}

func (d *Daemon) Password() string { return d.pw }

// Password returns a random password that starts with prefix.
func Password(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
