package charttest

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/default.yaml and testdata/all.yaml")

// goldenHeader starts each golden file; the rest is exactly what `helm
// template` prints.
const goldenHeader = `# Golden render of charts/pushscale in namespace pushscale-system (%s).
# Regenerate: make chart (or cd charts/pushscale/test && go test ./... -update).
# Applied by the main module's e2e test.
`

// TestGolden: testdata/default.yaml and testdata/all.yaml are the chart's
// current renders with default values and with testdata/all-values.yaml.
// They are deterministic (no random or time-based values: the gateway or
// cert-manager makes the certificates), so they change only with the chart.
func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		file   string
		what   string
		values map[string]any
	}{
		{"default.yaml", "default values; no Namespace: helm install --create-namespace makes it", nil},
		{"all.yaml", "testdata/all-values.yaml: everything switched on, the Namespace too", readValues(t, "all-values.yaml")},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r := mustRender(t, namespace, tc.values)
			again := mustRender(t, namespace, tc.values)
			if r.Manifest != again.Manifest {
				t.Fatal("two renders with the same values differ")
			}
			got := strings.Replace(goldenHeader, "%s", tc.what, 1) + r.Manifest
			path := filepath.Join("testdata", tc.file)
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./... -update)", err)
			}
			if string(want) != got {
				t.Errorf("%s is not the current render (run go test ./... -update and review the diff)", path)
			}
		})
	}
}
