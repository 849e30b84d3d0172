// Package natsjetstream is the source for KEDA's nats-jetstream trigger:
// the pending messages of a durable consumer, num_pending +
// num_ack_pending, with KEDA's metadata keys, defaults, lookup order and
// metric name (s<i>-nats-jetstream-<stream>).
//
// # Two ways to read
//
// Without natsClientURL (KEDA's metadata has none) the consumer is read from
// the monitoring endpoint's /jsz exactly as KEDA reads it, every
// pollingInterval, and the trigger reports PushHealthy=False NotSupported.
// In a cluster the consumer is looked up on the node named by
// natsServerMonitoringEndpoint only (KEDA also follows the consumer's
// leader through /varz; pushscale does not: use natsClientURL there).
//
// With natsClientURL (pushscale's key; credentials in the
// TriggerAuthentication as clientToken, clientUser + clientPassword,
// clientNkeySeed or clientCreds, a creds file's content) the gateway is a
// NATS client: one connection per URL and credential, shared by every
// trigger (sources.Endpoints), reads through the JetStream API (consumer
// info, routed to the consumer's leader by the server), and a push path:
// one ordered, headers-only, ephemeral consumer per watched stream,
// delivering only new messages, each a hint for the stream's triggers.
// A hint is additive (the Scheduler's leading edge: a target at zero wakes
// before the read) when the message's subject matches the durable
// consumer's filter, learnt by the last read. Acks are not pushed: active
// triggers are read every pollingInterval (DESIGN.md's read schedule).
//
// Streams and durable consumers are followed through their advisories
// ($JS.EVENT.ADVISORY.STREAM.*.<stream>, ...CONSUMER.*.<stream>.*): a
// stream created or deleted gets a fresh ordered consumer and a read; a
// durable consumer created or deleted gets a read. A stream that does not
// exist yet is tried again every 5 s (and on its advisory) and its
// triggers report SubscriptionLost while they are polled. nats.go
// reconnects an established connection by itself; a connection that
// cannot be made is tried again with backoff (Options.ReconnectWait,
// doubled up to 30 s, jittered), refused credentials reporting
// PermissionDenied. Every (re)connect is followed by a read of every
// resource (Scheduler.Reconnected). --disable-push nats-jetstream keeps
// the connection for reads and reports DisabledByConfig.
//
// Cost while idle: per natsClientURL and credential, one TCP connection;
// per watched stream one ordered consumer, parked in a pull request renewed
// every 20 minutes (1,000 streams: under 1 request/s), with an idle
// heartbeat from the server every 30 s, and two advisory subscriptions;
// no other request beyond the repair sweep.
package natsjetstream
