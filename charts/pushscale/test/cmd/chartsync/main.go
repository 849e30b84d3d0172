// Command chartsync copies the keda.sh CRDs and the Grafana dashboards into
// the Helm chart (package chartsync). Run by `make chart` from the
// repository root:
//
//	cd charts/pushscale/test && go run ./cmd/chartsync -root ../../..
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pushscale/pushscale/charts/pushscale/test/chartsync"
)

func main() {
	root := flag.String("root", "../../..", "the repository's root directory")
	flag.Parse()
	changed, err := chartsync.Write(*root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for _, p := range changed {
		fmt.Println("chartsync:", p)
	}
}
