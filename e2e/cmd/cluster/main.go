// Command cluster starts the local control plane of package
// e2e/controlplane and keeps it running until interrupted, printing the
// kubeconfig and kubectl paths. `make cluster` runs it.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/pushscale/pushscale/e2e/controlplane"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context) error {
	logger := log.New(os.Stderr, "", log.LstdFlags)
	cp, err := controlplane.Start(ctx, controlplane.Options{Logf: logger.Printf})
	if err != nil {
		return err
	}
	defer cp.Stop()
	fmt.Printf("\nThe control plane is running (Ctrl-C stops it and removes everything).\n\n")
	fmt.Printf("  export KUBECONFIG=%s\n", cp.Kubeconfig)
	fmt.Printf("  alias kubectl=%s\n", cp.Binaries.Kubectl)
	fmt.Printf("  kubectl get --raw /readyz\n\n")
	<-ctx.Done()
	fmt.Println("stopping")
	return nil
}
