package certs

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeAtomically replaces path as a kubelet-mounted Secret changes: a
// new file renamed over the old one.
func writeAtomically(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestFileSourceReloads is the cert-manager path: the Holder serves the
// files' pair and the renewed one once the files are replaced.
func TestFileSourceReloads(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first, err := newBundle(time.Now(), time.Hour, []string{"localhost"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomically(t, certFile, first.certPEM)
	writeAtomically(t, keyFile, first.keyPEM)
	h := NewHolder("admission")
	src, err := NewFileSource("admission", certFile, keyFile, h)
	if err != nil {
		t.Fatal(err)
	}
	if cur, _ := h.CurrentCertKeyContent(); string(cur) != string(first.certPEM) {
		t.Fatal("the holder does not serve the files' certificate")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	second, err := newBundle(time.Now(), time.Hour, []string{"localhost"}, first)
	if err != nil {
		t.Fatal(err)
	}
	// Written whether or not the watch has started: the watcher reads the
	// files once it has.
	writeAtomically(t, keyFile, second.keyPEM)
	writeAtomically(t, certFile, second.certPEM)
	poll(t, "the renewed certificate served", func() bool {
		cur, _ := h.CurrentCertKeyContent()
		return string(cur) == string(second.certPEM)
	})
}

func TestFileSourceRefusesMissingFiles(t *testing.T) {
	dir := t.TempDir()
	_, err := NewFileSource("admission", filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), NewHolder("admission"))
	if err == nil {
		t.Fatal("missing files accepted")
	}
}
