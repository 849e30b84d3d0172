// Package leader lets several gateway replicas run with one writer.
//
// An Elector campaigns for a coordination.k8s.io Lease and leads with
// client-go's leaderelection, and publishes the holder's webhook address in an
// annotation of the Lease, so the other replicas (standbys) can forward
// webhook requests to it (Forwarder). Fence is the last line of the
// one-writer rule: a rest.Config transport wrapper that refuses every
// request that is not a read while this replica does not lead, whatever
// the caller forgot to check.
//
// The campaign is the Elector's own (campaign.go): it watches the Lease,
// so a standby takes over when the lease expires, counted from the last
// renewal it saw (at most lease duration + retry period after a crash),
// and at once after a release; client-go's candidates read the Lease only
// every jittered retry period and could take up to 4.4 retry periods
// more. Renewing, the renew deadline and the release on a graceful stop
// are client-go's.
//
// Leading is conservative: it turns false as soon as the last successful
// renewal is older than the renew deadline, before the lease can expire
// for the others (the lease duration is longer), and before the lease is
// released on a graceful stop. A replica that loses the lease while
// running does not go back to standby: Start returns ErrLost and the
// gateway exits, as kube-controller-manager does, so no state of the lost
// term is carried over.
package leader
