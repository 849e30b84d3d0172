// Package controlplane runs a real Kubernetes control plane on one machine:
// etcd, kube-apiserver and kube-controller-manager, built from the Go module
// proxy at pinned versions, plus kubectl.
//
// Binaries are built once per machine and version into a cache directory
// (see EnsureBinaries); the first build takes about seven minutes on two
// cores, later starts take seconds. Every process listens on loopback only,
// on free ports, with certificates and tokens generated for the run. Child
// processes die with the process that started them, and every Start removes
// what an earlier, interrupted run left behind.
//
// There is no kubelet and no scheduler: Deployments, ReplicaSets, HPAs and
// Jobs are reconciled, Pods stay Pending unless a stand-in marks them (see
// package e2e/kubelet).
package controlplane
