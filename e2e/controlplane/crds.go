package controlplane

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// Kubectl runs the cached kubectl against the control plane and returns
// its combined output; the error holds the output too.
func (cp *ControlPlane) Kubectl(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, cp.Binaries.Kubectl, append([]string{"--kubeconfig", cp.Kubeconfig}, args...)...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// InstallCRDs applies the kustomization in dir, as a user installs the
// CRDs (server-side: the ScaledJob CRD is too large for client-side apply's
// annotation), and waits until every CRD is Established.
func (cp *ControlPlane) InstallCRDs(ctx context.Context, dir string) error {
	if _, err := cp.Kubectl(ctx, "apply", "--server-side", "-k", dir); err != nil {
		return err
	}
	_, err := cp.Kubectl(ctx, "wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
	return err
}

// FreePorts returns n distinct free loopback ports. Another process may
// take one before it is bound: callers that can, retry on a bind failure.
func FreePorts(n int) ([]int, error) { return freePorts(n) }
