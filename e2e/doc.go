// Package e2e holds every test that needs the local Kubernetes control
// plane. One TestMain starts one control plane for the whole `go test` run;
// each test works in a namespace of its own.
package e2e
