package externalscaler

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestGeneratedCodeIsCurrent regenerates the Go code from externalscaler.proto
// into a temporary folder and fails when it differs from the committed files:
// run `go generate ./api/externalscaler` after changing the .proto or the
// plugins' versions in go.mod.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Fatal("protoc is not on PATH: `make deps` installs it (Debian's protobuf-compiler)")
	}
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./internal/gen", "-dir", ".", "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generate: %v\n%s", err, b)
	}
	for _, name := range []string{"externalscaler.pb.go", "externalscaler_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what externalscaler.proto generates: run `go generate ./api/externalscaler`", name)
		}
	}
}
