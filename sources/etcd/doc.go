// Package etcd serves KEDA's etcd trigger: the value of one key, parsed
// as a number, with KEDA's metadata keys, defaults and metric name
// ("s<index>-etcd-<watchKey>").
//
// Push, as KEDA itself does, by watch: each endpoint (members, credential,
// TLS) keeps one client, and one watch per watched key (with progress
// notifications). A watch event is a hint: the key is read (Get) through
// the shared Scheduler rather than its value taken from the event, so that
// a read and a push can never record values out of order, a deleted key is
// a failed read as in KEDA, and every trigger on the key sees the same
// value; the Get costs one round trip. A put that leaves the key at 1 or
// more is the Scheduler's leading edge: 1 is recorded at once for a key
// last read at 0, so a target at zero wakes before the Get. A watch is made again, with a read,
// when etcd cancels it (compaction, no leader) or when nothing, not even a
// progress notification, was heard for twice watchProgressNotifyInterval
// (KEDA's rule); while the client's connection is down the triggers are
// PushHealthy=False SubscriptionLost and polled, and its return is
// followed by a read of every key (the watch resumes at the next
// revision, so no change is missed). --disable-push etcd opens no watch
// (DisabledByConfig): keys are read every pollingInterval.
package etcd
