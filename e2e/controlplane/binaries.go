package controlplane

import (
	"bytes"
	"context"
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

// The pinned versions. They must match the go.mod files under build/.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "v3.6.16"
)

// Binaries are the paths of the control plane's executables.
type Binaries struct {
	Etcd                  string
	KubeAPIServer         string
	KubeControllerManager string
	Kubectl               string
}

func (b Binaries) all() []string {
	return []string{b.Etcd, b.KubeAPIServer, b.KubeControllerManager, b.Kubectl}
}

// DefaultCacheDir returns where binaries are cached: $PUSHSCALE_CACHE_DIR,
// else $XDG_CACHE_HOME/pushscale, else ~/.cache/pushscale.
func DefaultCacheDir() (string, error) {
	if d := os.Getenv("PUSHSCALE_CACHE_DIR"); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("controlplane: no cache directory (set PUSHSCALE_CACHE_DIR): %w", err)
	}
	return filepath.Join(d, "pushscale"), nil
}

// buildSourceDir returns the folder holding the helper modules (build/kube
// and build/etcd). It is found next to this file, so binaries can be built
// from a checkout of the repository; PUSHSCALE_CONTROLPLANE_SRC overrides it.
func buildSourceDir() (string, error) {
	if d := os.Getenv("PUSHSCALE_CONTROLPLANE_SRC"); d != "" {
		return d, nil
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("controlplane: cannot locate build/ (set PUSHSCALE_CONTROLPLANE_SRC)")
	}
	return filepath.Join(filepath.Dir(file), "build"), nil
}

// EnsureBinaries returns the cached binaries for the pinned versions,
// building them first when they are missing. Concurrent callers on one
// machine wait for a single build. logf reports progress (it may be nil).
func EnsureBinaries(ctx context.Context, cacheDir string, logf func(format string, args ...any)) (Binaries, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir := filepath.Join(cacheDir, "bin", "kubernetes-"+KubernetesVersion+"_etcd-"+EtcdVersion)
	bins := Binaries{
		Etcd:                  filepath.Join(dir, "etcd"),
		KubeAPIServer:         filepath.Join(dir, "kube-apiserver"),
		KubeControllerManager: filepath.Join(dir, "kube-controller-manager"),
		Kubectl:               filepath.Join(dir, "kubectl"),
	}
	if present(bins) {
		return bins, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binaries{}, fmt.Errorf("controlplane: create cache %s: %w", dir, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return Binaries{}, err
	}
	defer unlock()
	if present(bins) { // another process built them while we waited
		return bins, nil
	}
	src, err := buildSourceDir()
	if err != nil {
		return Binaries{}, err
	}
	start := time.Now()
	logf("building etcd %s and Kubernetes %s into %s (about 7 minutes on 2 cores the first time)", EtcdVersion, KubernetesVersion, dir)
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return Binaries{}, fmt.Errorf("controlplane: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := goBuild(ctx, filepath.Join(src, "etcd"), tmp, nil, "."); err != nil {
		return Binaries{}, fmt.Errorf("controlplane: build etcd %s: %w", EtcdVersion, err)
	}
	if err := os.Rename(filepath.Join(tmp, "etcd"), bins.Etcd); err != nil {
		return Binaries{}, fmt.Errorf("controlplane: %w", err)
	}
	ldflags := versionLDFlags(KubernetesVersion)
	if err := goBuild(ctx, filepath.Join(src, "kube"), tmp, ldflags,
		"k8s.io/kubernetes/cmd/kube-apiserver", "k8s.io/kubernetes/cmd/kube-controller-manager", "k8s.io/kubernetes/cmd/kubectl"); err != nil {
		return Binaries{}, fmt.Errorf("controlplane: build Kubernetes %s: %w", KubernetesVersion, err)
	}
	for _, name := range []string{"kube-apiserver", "kube-controller-manager", "kubectl"} {
		if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
			return Binaries{}, fmt.Errorf("controlplane: %w", err)
		}
	}
	logf("built the control plane in %s", time.Since(start).Round(time.Second))
	return bins, nil
}

func present(b Binaries) bool {
	for _, p := range b.all() {
		if fi, err := os.Stat(p); err != nil || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// versionLDFlags stamps the Kubernetes version into the binaries, as the
// release build does, so clients see v1.37.2 rather than v0.0.0-master.
func versionLDFlags(v string) []string {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	pkg := "k8s.io/component-base/version"
	return []string{"-ldflags=-s -w" +
		" -X " + pkg + ".gitVersion=" + v +
		" -X " + pkg + ".gitMajor=" + parts[0] +
		" -X " + pkg + ".gitMinor=" + parts[1] +
		" -X " + pkg + ".gitTreeState=clean"}
}

// goBuild runs `go build -o out pkgs...` in the helper module dir, with the
// module's own go.sum (read-only mode: nothing is rewritten).
func goBuild(ctx context.Context, dir, out string, flags []string, pkgs ...string) error {
	args := append([]string{"build", "-mod=readonly", "-o", out + string(os.PathSeparator)}, flags...)
	args = append(args, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// Like the control plane's processes, the build dies with this
	// process: a test killed mid-build leaves no orphan compiling for
	// minutes beside the next run's build.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	errc := make(chan error, 1)
	spawner <- func() { errc <- cmd.Start() }
	err := <-errc
	if err == nil {
		err = cmd.Wait()
	}
	if err != nil {
		tail := buf.String()
		if len(tail) > 4000 {
			tail = tail[len(tail)-4000:]
		}
		return fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, tail)
	}
	return nil
}

// lockFile takes an exclusive flock on path, waiting until ctx is done.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("controlplane: open lock %s: %w", path, err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("controlplane: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("controlplane: waiting for another build of the binaries: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
}
