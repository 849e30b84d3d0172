// Package postgresql serves KEDA's postgresql trigger: a scalar query
// (the first column of the first row, as a number) read on the shared
// schedule (sources.Scheduler), with KEDA's metadata keys, lookup orders
// and metric name ("s<index>-postgresql").
//
// Push. PostgreSQL has LISTEN/NOTIFY, and pushscale uses it when a trigger
// sets the optional key notifyChannel (not KEDA's): each endpoint (server,
// database and credential) keeps one extra connection that LISTENs on the
// channels of its triggers. A notification on a channel is a hint for the
// triggers on it: the query runs at once through the Scheduler (single
// flight, rate-limited while active) and its result is recorded. The
// payload is not read; a notification never stands in for the query, so
// an application may NOTIFY on any change (insert, update, delete). After
// every (re)connect the channels are LISTENed to again and every query is
// read, so a notification sent while the connection was down is not
// needed to catch up. PushHealthy: Subscribed while LISTENing,
// SubscriptionLost while the connection is down (the query is then polled
// every pollingInterval), NotSupported for a trigger without
// notifyChannel, DisabledByConfig with --disable-push postgresql.
//
// Cost: one idle connection per endpoint with a notifyChannel, beside the
// read pool (at most Options.MaxReadConns per endpoint, closed when idle);
// on the server, a NOTIFY costs the notifying transaction a queue entry
// at commit, delivered to listeners only then.
package postgresql
