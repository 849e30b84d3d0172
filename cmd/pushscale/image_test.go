package main

import (
	"bufio"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// dockerfileStages splits the top-level Dockerfile into its stages' lines
// (continuations joined, comments dropped).
func dockerfileStages(t *testing.T) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var stages [][]string
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line, cur = cur+line, ""
		if strings.HasPrefix(strings.ToUpper(line), "FROM ") {
			stages = append(stages, nil)
		}
		if len(stages) == 0 {
			t.Fatalf("Dockerfile: %q before the first FROM", line)
		}
		stages[len(stages)-1] = append(stages[len(stages)-1], line)
	}
	return stages
}

// TestDockerfileFinalStage: the image the Dockerfile builds holds only the
// static binary and the CA certificates, on an empty base, and runs as a
// numeric non-root user. (No container engine answers here: the image
// itself is not built; TestBinaryIsStatic builds the binary as its build
// stage does.)
func TestDockerfileFinalStage(t *testing.T) {
	stages := dockerfileStages(t)
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build stage and a final one", len(stages))
	}
	final := stages[len(stages)-1]
	if base := strings.Fields(final[0]); len(base) < 2 || base[1] != "scratch" && !strings.HasPrefix(base[1], "gcr.io/distroless/static") {
		t.Errorf("final stage %q: want scratch or distroless static", final[0])
	}
	var user string
	copied := map[string]bool{}
	for _, line := range final[1:] {
		fields := strings.Fields(line)
		switch strings.ToUpper(fields[0]) {
		case "USER":
			user = fields[1]
		case "COPY":
			copied[fields[len(fields)-1]] = true
		case "ENTRYPOINT", "CMD", "ENV", "LABEL", "EXPOSE", "ARG":
		default:
			t.Errorf("final stage: %q: only COPY, USER and metadata belong there", line)
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root user", user)
	}
	if len(copied) != 2 || !copied["/pushscale"] || !copied["/etc/ssl/certs/ca-certificates.crt"] {
		t.Errorf("final stage copies %v: want only /pushscale and the CA certificates", copied)
	}
	build := strings.Join(stages[0], "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "version.Version=${VERSION}"} {
		if !strings.Contains(build, want) {
			t.Errorf("build stage lacks %s", want)
		}
	}
	t.Log("the image itself was not built: no container engine answers here (make image builds it where one does)")
}

// TestBinaryIsStatic builds the binary as the Dockerfile's build stage does
// and checks that it needs no dynamic loader (a scratch image has none).
func TestBinaryIsStatic(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	out := filepath.Join(t.TempDir(), "pushscale")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/pushscale/pushscale/version.Version=v0.0.0-test", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	v, err := exec.Command(out, "--version").Output()
	if err != nil || !strings.HasPrefix(string(v), "pushscale v0.0.0-test (") {
		t.Fatalf("--version: %q %v", v, err)
	}
}
