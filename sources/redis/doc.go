// Package redis is the source for KEDA's six redis trigger types: redis,
// redis-cluster, redis-sentinel (a list's length) and redis-streams,
// redis-cluster-streams, redis-sentinel-streams (a stream's length, a
// group's pending entries or its lag). Metadata keys, defaults,
// TriggerAuthentication parameters and the per-field lookup order are
// KEDA's (config.go); so are the values read: KEDA's Lua script
// for lists (LLEN, SCARD, ZCARD or HLEN by the key's TYPE, 0 when the key
// does not exist), and for streams XLEN without a consumerGroup, XPENDING
// with one, the group's lag from XINFO GROUPS with a non-zero lagCount.
// Two deliberate differences: a lag Redis reports as NULL is a read error
// (KEDA's -1 reads as idle while entries may wait), and a key of a type the
// script cannot count is an error that says so.
//
// # Hint, then read
//
// Values are learnt from keyspace notifications: the source SUBSCRIBEs to
// the exact channel __keyspace@<db>__:<key> of every watched key (never a
// pattern), and each message is a hint to the family's sources.Scheduler for
// that resource, which then reads it (single-flight, rate-limited while
// active). Pushes into a key (lpush, rpush, linsert, sadd, zadd, hset; xadd
// for XLEN and lag) are additive: the Scheduler records a lower bound of 1
// at once, so a target at zero wakes before the read. LMOVE and RPOPLPUSH
// are notified as a pop on the source and a push on the destination, so
// they need nothing special; an event named after the command itself, which
// would not say which side the key was on, counts as not additive, like
// pops, deletions, trims, renames and expiries.
//
// # Notification classes
//
// notify-keyspace-events is read on every (re)connect and every minute. A
// trigger's push path is healthy only when its node sends what it needs:
// K (keyspace channels), g (DEL, RENAME, EXPIRE) and x (expiries) always;
// l for a list trigger, plus s, z or h once its key is seen to be a set, a
// sorted set or a hash (KEDA's list trigger counts those too; until a read
// sees the type, l is assumed); t for a streams trigger. "KA" covers
// everything. A setting that cannot be read (CONFIG refused, as on managed
// Redis) counts as no notifications. Uncovered triggers, and those whose
// keyspace channel an ACL refuses, are pushed through server-assisted
// client tracking instead (tracking.go) and report PushHealthy=True
// Tracking; where tracking is refused too they report PushHealthy=False
// NotificationsDisabled (or PermissionDenied) and are polled every
// pollingInterval. The keyspace subscription stays either way, so enabling
// notifications later takes effect within a minute. With
// Options.ConfigureNotifications the source merges the missing classes
// into the flags already set (CONFIG SET, never replacing them) and checks
// again.
//
// # Connections
//
// An endpoint is one connection configuration: kind, addresses, database,
// users, keyed hashes of the passwords, TLS settings. Endpoints are
// reference counted by their triggers (sources.Endpoints). Per server
// node an endpoint holds one subscription connection, shared by every
// trigger on the node, and one client with a pool of Options.PoolSize
// (default 1) for reads and CONFIG: two connections per node when idle,
// on either push path. The subscription connection has a client of its own
// (so that its CLIENT ID is known, for tracking's redirect).
// Each (re)subscription ends with Scheduler.Reconnected (every resource of
// the endpoint is read: what happened meanwhile is caught) and PushHealthy
// True Subscribed; a channel added later is read once its SUBSCRIBE is
// confirmed, closing the gap between a trigger's first read and its
// subscription. A lost connection reports SubscriptionLost (the Scheduler
// polls meanwhile) and is reconnected with backoff from 100 ms to 30 s,
// with jitter; nothing stops the gateway. A silent connection is PINGed
// every 30 s and dropped when no PONG follows. An ACL user refused a
// channel (NOPERM on SUBSCRIBE) reports PermissionDenied for the triggers of
// that channel only; refused channels are tried again every minute.
//
// Redis Cluster sends keyspace notifications only from the node that owns
// the key, so each channel is subscribed on the primary that owns its
// key's hash slot, from a slot map (CLUSTER SLOTS) refreshed every
// Options.TopologyInterval (5 s) while anything is pushed, and at once
// after a MOVED reply or a lost node. When a slot moves (failover,
// resharding) its channels move to the new owner, and its resources are
// read once the new SUBSCRIBE is confirmed. Reads go to the slot's primary
// too, following MOVED and ASK. With Sentinel, the master comes from the
// first sentinel that names it (the one that answered last first),
// checked every TopologyInterval and after a lost connection; a new master
// gets a new subscription, then Reconnected.
//
// --disable-push (sources.Deps.DisablePush) turns push off per trigger
// type, client tracking included: those triggers are not subscribed,
// report DisabledByConfig and are polled.
//
// # Shared parts
//
// The fields are declared with sources.Field and read through a
// sources.Lookup in KEDA's order (config.go). Endpoints and resources are
// reference counted by sources.Endpoints, which starts an endpoint's loop
// on its first trigger and stops it after its last. Reads are scheduled by
// the family's sources.Scheduler, which the gateway's sources.Manager
// creates (Deps.Scheduler) and runs; the source never calls it after Start
// returns, having detached its triggers by then.
package redis
