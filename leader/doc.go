// Package leader lets several gateway replicas run with one writer.
//
// An Elector campaigns for a coordination.k8s.io Lease with client-go's
// leaderelection and publishes the holder's webhook address in an
// annotation of the Lease, so the other replicas (standbys) can forward
// webhook requests to it (Forwarder). Fence is the last line of the
// one-writer rule: a rest.Config transport wrapper that refuses every
// request that is not a read while this replica does not lead, whatever
// the caller forgot to check.
//
// Leading is conservative: it turns false as soon as the last successful
// renewal is older than the renew deadline, before the lease can expire
// for the others (the lease duration is longer), and before the lease is
// released on a graceful stop. A replica that loses the lease while
// running does not go back to standby: Start returns ErrLost and the
// gateway exits, as kube-controller-manager does, so no state of the lost
// term is carried over.
package leader
