// Package charttest tests the pushscale Helm chart (charts/pushscale). It is
// a module of its own so that the Helm library's Kubernetes module versions
// never touch the main module's.
//
// The tests render the chart as `helm template` does (chart loader, values
// schema, engine, manifests sorted in install order) in the release
// namespace pushscale-system, and check the render against the kustomize
// gateway base (manifests/gateway), the CRDs against manifests/crds, the
// dashboards against manifests/monitoring/dashboards, and the renders
// against the golden files testdata/default.yaml and testdata/all.yaml
// (regenerated with `go test ./... -update`), which the main module's e2e
// test applies to a kube-apiserver.
package charttest
