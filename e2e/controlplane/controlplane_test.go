package controlplane

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// These tests need no control plane: they cover the harness's own
// bookkeeping and error messages.

func TestEnsureBinariesNamesWhatFailed(t *testing.T) {
	src := t.TempDir()
	for _, m := range []string{"etcd", "kube"} {
		if err := os.MkdirAll(filepath.Join(src, m), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A helper module that does not compile.
	os.WriteFile(filepath.Join(src, "etcd", "go.mod"), []byte("module broken\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(src, "etcd", "main.go"), []byte("package main\nfunc main() { undefined() }\n"), 0o644)
	t.Setenv("PUSHSCALE_CONTROLPLANE_SRC", src)
	_, err := EnsureBinaries(context.Background(), t.TempDir(), nil)
	if err == nil {
		t.Fatal("a broken build succeeded")
	}
	for _, want := range []string{"build etcd " + EtcdVersion, "undefined"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestEnsureBinariesUsesTheCache(t *testing.T) {
	cache := t.TempDir()
	dir := filepath.Join(cache, "bin", "kubernetes-"+KubernetesVersion+"_etcd-"+EtcdVersion)
	os.MkdirAll(dir, 0o755)
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kubectl"} {
		os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755)
	}
	t.Setenv("PUSHSCALE_CONTROLPLANE_SRC", "/nonexistent") // a build would fail
	b, err := EnsureBinaries(context.Background(), cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Kubectl != filepath.Join(dir, "kubectl") {
		t.Fatalf("kubectl at %s", b.Kubectl)
	}
}

func TestCleanLeftovers(t *testing.T) {
	root := t.TempDir()
	live, err := newRunDir(root)
	if err != nil {
		t.Fatal(err)
	}
	// A dead run: its owner exited, and one of its children still runs.
	dead, _ := os.MkdirTemp(root, "run-")
	owner := exec.Command("true")
	if err := owner.Run(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dead, "owner"), []byte(fmt.Sprintf("%d 1\n", owner.Process.Pid)), 0o644)
	child := exec.Command("sleep", "300")
	child.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { child.Wait(); close(waited) }()
	os.WriteFile(filepath.Join(dead, "pids"), []byte(fmt.Sprintf("%d\n", child.Process.Pid)), 0o644)
	// A run directory without an owner file is broken: removed too.
	broken, _ := os.MkdirTemp(root, "run-")

	removed, err := CleanLeftovers(root)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(removed, ",")
	if !strings.Contains(got, dead) || !strings.Contains(got, broken) || strings.Contains(got, live) {
		t.Fatalf("removed %v; want %s and %s, not %s", removed, dead, broken, live)
	}
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		child.Process.Kill()
		t.Fatal("the leftover child was not killed")
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("the live run was removed: %v", err)
	}
}

func TestFreePortsAreDistinctLoopback(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v", ports)
		}
		seen[p] = true
	}
}

func TestProcessStartIdentifiesThisProcess(t *testing.T) {
	a, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := processStart(os.Getpid())
	if a == "" || a != b {
		t.Fatalf("start times %q, %q", a, b)
	}
	if _, err := processStart(1 << 30); err == nil {
		t.Fatal("a process that cannot exist has a start time")
	}
}

func TestVersionLDFlags(t *testing.T) {
	got := versionLDFlags("v1.37.2")[0]
	for _, want := range []string{"gitVersion=v1.37.2", "gitMajor=1", "gitMinor=37"} {
		if !strings.Contains(got, want) {
			t.Errorf("%q lacks %q", got, want)
		}
	}
}
