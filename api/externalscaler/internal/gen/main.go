// Command gen regenerates the external scaler protocol's Go code: it builds
// protoc-gen-go and protoc-gen-go-grpc at the versions go.mod pins as tools,
// then runs protoc on externalscaler.proto, writing the two .pb.go files
// into -out (the package's folder by default; the currency test writes into
// a temporary folder and compares).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

var plugins = map[string]string{
	"protoc-gen-go":      "google.golang.org/protobuf/cmd/protoc-gen-go",
	"protoc-gen-go-grpc": "google.golang.org/grpc/cmd/protoc-gen-go-grpc",
}

func main() {
	dir := flag.String("dir", ".", "the folder holding externalscaler.proto")
	out := flag.String("out", "", "where to write the generated files (default -dir)")
	flag.Parse()
	if *out == "" {
		*out = *dir
	}
	if err := generate(*dir, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func generate(dir, out string) error {
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		return fmt.Errorf("protoc is not on PATH: run `make deps` (Debian's protobuf-compiler)")
	}
	bin, err := os.MkdirTemp("", "externalscaler-plugins-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	args := []string{"-I", dir}
	for name, pkg := range plugins {
		path := filepath.Join(bin, name)
		if err := run(dir, "go", "build", "-o", path, pkg); err != nil {
			return fmt.Errorf("build %s: %w", name, err)
		}
		args = append(args, "--plugin="+name+"="+path)
	}
	args = append(args,
		"--go_out="+out, "--go_opt=paths=source_relative",
		"--go-grpc_out="+out, "--go-grpc_opt=paths=source_relative",
		"externalscaler.proto")
	return run(dir, protoc, args...)
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}
