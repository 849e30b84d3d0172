package controlplane

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A run directory holds everything of one control plane: certificates,
// data, logs, and two bookkeeping files: "owner" (pid and start time of the
// process that started the run) and "pids" (one child pid per line).

// RunsRoot is where run directories are created: $TMPDIR/pushscale-controlplane.
func RunsRoot() string { return filepath.Join(os.TempDir(), "pushscale-controlplane") }

// newRunDir creates a run directory owned by this process.
func newRunDir(root string) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("controlplane: %w", err)
	}
	dir, err := os.MkdirTemp(root, "run-")
	if err != nil {
		return "", fmt.Errorf("controlplane: %w", err)
	}
	start, err := processStart(os.Getpid())
	if err != nil {
		return "", fmt.Errorf("controlplane: %w", err)
	}
	owner := fmt.Sprintf("%d %s\n", os.Getpid(), start)
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(owner), 0o644); err != nil {
		return "", fmt.Errorf("controlplane: %w", err)
	}
	return dir, nil
}

// CleanLeftovers removes run directories under root whose owner process is
// gone, first killing any of their children that still run. It returns the
// directories it removed. Runs of live processes are left alone.
func CleanLeftovers(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("controlplane: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if ownerAlive(dir) {
			continue
		}
		killChildren(dir)
		if err := os.RemoveAll(dir); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, dir)
	}
	return removed, errors.Join(errs...)
}

// ownerAlive reports whether the process recorded in dir/owner still runs
// (same pid and same start time, so a reused pid does not count). A run
// directory without an owner file is younger than a second or broken; it
// counts as alive only if it is being written right now, which we cannot
// tell, so it counts as dead.
func ownerAlive(dir string) bool {
	data, err := os.ReadFile(filepath.Join(dir, "owner"))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return false
	}
	pid, err := strconv.Atoi(fields[0])
	if err != nil {
		return false
	}
	start, err := processStart(pid)
	return err == nil && start == fields[1]
}

// killChildren sends SIGKILL to the process group of every recorded child
// that still runs.
func killChildren(dir string) {
	data, err := os.ReadFile(filepath.Join(dir, "pids"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// processStart returns the start time of pid in clock ticks since boot
// (field 22 of /proc/<pid>/stat), which with the pid identifies a process.
func processStart(pid int) (string, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')') // the command name may hold spaces
	if i < 0 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 20 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return fields[19], nil
}
