// Package rabbitmq is the source for KEDA's rabbitmq trigger: a queue's
// messages (or, with the management API, its publish and deliver rates),
// with KEDA's metadata keys, defaults, lookup orders, rules and metric name
// (s<i>-rabbitmq-<url.QueryEscape(queueName)>).
//
// # Reads
//
// protocol amqp (an amqp:// or amqps:// host) reads a queue's ready
// messages by a passive queue.declare, KEDA's read, on one AMQP connection
// per host, vhost and credential, shared by every trigger on it (an
// endpoint of sources.Endpoints: its id holds a keyed hash of the
// credentials, never them). Each read opens a channel of its own and closes
// it: a passive declare of a missing queue makes the broker close the
// channel (404), so one missing queue never breaks another trigger's read.
// protocol http (an http:// or https:// host) and the rate modes read the
// management API as KEDA does: GET /api/queues/<vhost>/<queue>, or with
// useRegex the queues matching queueName (pageSize, combined by operation),
// mode QueueLength counting unacknowledged messages too unless
// excludeUnacknowledged; MessageRate, DeliverGetRate,
// PublishedToDeliveredRatio and ExpectedQueueConsumptionTime with KEDA's
// formulas. The management API refreshes its statistics every 5 s by
// default (collect_statistics_interval), so these values may be that old.
// As in KEDA, MessageRate is also active while messages > activationValue,
// PublishedToDeliveredRatio while messages are published and none
// delivered, ExpectedQueueConsumptionTime while messages wait and none are
// delivered, whatever the value: the read says so (sources.ReportActive)
// and the scaler decides on it.
//
// # Push: a shadow queue per watched queue, consumed only while idle
//
// Classic and quorum queues have no "message enqueued" event (the event
// exchange publishes no message counts; the firehose tracer copies every
// publish of a vhost), and registering a consumer on the application's
// queue to peek would take its messages or, with a requeue, set their
// redelivered flag and reorder them: pushscale never does that. Instead, for
// a queue fed through exchanges, the gateway declares a shadow queue of its
// own (server-named, exclusive, auto-delete, x-max-length 1, x-overflow
// drop-head), binds it with the queue's bindings (learnt from the
// management API, GET /api/queues/<vhost>/<queue>/bindings, every binding
// but the default exchange's, headers-exchange arguments included; or named
// by the trigger key shadowBindings, "exchange:routingKey,..."), and
// consumes it without acks while the trigger is idle. A publish routed to
// the queue is routed to the shadow queue too; its delivery is an additive
// hint (sources.Scheduler: a target at zero is woken at once) followed by
// the passive-declare read. The management API is found at managementHost
// (pushscale's key) or at the host's address on port 15672 (15671 for
// amqps), with the trigger's credentials.
//
// While the trigger is active, its shadow queue is deleted (no copy is
// taken under load) and the Scheduler reads the queue every
// pollingInterval, as KEDA would: consumption is never pushed. When a read
// finds it idle again, a fresh shadow queue is declared, bound, consumed,
// and one more read covers a publish between the two. The bindings are
// read again on every (re)connect and on reads while idle (the repair
// sweep at least; at most once a minute per queue, Options.BindingsRecheck,
// since a queue that cannot be pushed is read every pollingInterval), so
// bindings added or removed are followed; a management API that fails is
// asked again 5 s later, once for all its queues.
//
// A publish through the default exchange (to the queue by name) cannot be
// copied: a trigger whose queue has no other binding is polled, every
// pollingInterval or every --rabbitmq-idle-poll-interval when that is
// shorter, with PushHealthy=False, reason NotSupported, saying so. So is
// protocol http (the gateway has no AMQP address for it). --disable-push
// rabbitmq keeps the connection for reads, takes no shadow queue and
// reports DisabledByConfig.
//
// The wake-up is one routing step and one delivery behind the publish: the
// broker routes the publish to the shadow queue as it routes it to the
// application's, delivers it to the gateway's consumer at once, and the
// Scheduler's leading edge records the trigger active before the read. The
// bench measured publish → spec.replicas=1 p50 10.4 ms, p99 175 ms
// (100 activations, a machine with a load average of 5 to 7 on 2 cores;
// bench/results/2026-12-06-rabbitmq.txt), against p50 544 ms, p99 1.05 s
// for a default-exchange queue polled at 1 s and p50 391 ms, p99 1.03 s
// with push disabled; KEDA: p50 426 ms, p99 992 ms at 1 s. The tail (p90
// 26 ms, max 199 ms; an earlier run on the same busy machine had p99
// 247 ms) follows the machine's load; in the package's own test the
// shadow queue's delivery reaches the store about 6 ms after the publish
// is sent, confirm included (TestShadowQueueWakes logs it).
//
// The trade-off: a wake-up in milliseconds at the price of copying each
// publish once more while the trigger is idle. The
// idle cost per watched queue is one tiny queue (at most one message,
// the newest) with one consumer and one channel on the shared connection,
// and no read at all between repair sweeps; the copy cost is one copy of
// each message's payload into the shadow queue while idle (dropped at
// once when the next arrives, max-length 1), none while active.
//
// # Errors and reconnects
//
// Bad metadata, an unreachable broker, a missing vhost or queue and refused
// credentials make every read fail with an error naming the field (host,
// vhostName, queueName, "username and password"): Ready=False; refused
// credentials are PushHealthy=False PermissionDenied, a lost or unreachable
// broker SubscriptionLost. A password in the host URL is redacted from
// every error and never part of an endpoint id. A lost connection is
// dialled again with backoff (Options.ReconnectWait doubled up to 30 s,
// jittered), every (re)connect followed by a read of every queue
// (Scheduler.Reconnected) and new shadow queues.
package rabbitmq
