// Package companion is pushscale's side of KEDA's external scaler
// protocol: the gRPC server of companion mode, so that a cluster keeping
// KEDA (and its external.metrics.k8s.io APIService) can use pushscale's
// push sources through triggers of type external-push.
//
// A KEDA trigger whose scalerAddress points at pushscale names the
// pushscale trigger type in its metadata key pushscaleType and passes that
// trigger's metadata beside it; pushscaleAuthenticationRef names a
// TriggerAuthentication in the ScaledObject's own namespace (KEDA forwards
// only metadata), and pushscalePollingInterval the pollingInterval in
// seconds (default 30). Each distinct (namespace, name, metadata) becomes
// one sources.Trigger, watched through the gateway's sources.Manager, its
// values kept in the gateway's store:
//
//   - Store keys: Kind is KindExternalScaler ("ExternalScalerTrigger"),
//     which no ScaledObject or ScaledJob key has; Namespace and Name are the
//     ScaledObjectRef's; UID is a hash of (namespace, name, metadata), so a
//     changed trigger is a new key; the trigger index is 0 (the metric name
//     is "s0-<base>", answered to KEDA without the prefix, since KEDA adds
//     its own).
//   - Unwatch rule: a trigger is unwatched once no stream is open on it and
//     no call has named it for IdleTimeout (default 10 minutes; KEDA calls
//     GetMetrics and IsActive on every poll, so a live ScaledObject keeps
//     its trigger), and at once when its TriggerAuthentication can no
//     longer be resolved (re-read every AuthRefresh). Open streams then
//     end with Unavailable and KEDA reopens them.
//   - Bounds: MaxTriggers in total, MaxTriggersPerNamespace per namespace,
//     MaxStreams open streams; past them a call is ResourceExhausted.
//
// IsActive, GetMetrics and GetMetricSpec answer from memory once a
// trigger is watched (a map lookup and a store read). StreamIsActive sends
// the current activity when the stream opens (as soon as the trigger has a
// value: unknown is not inactive) and then each change of it, woken by the
// store's notify function (Server.Notify), never by a timer.
// StreamMetricSpec sends the trigger's one spec when it opens and keeps
// the stream open: a trigger's spec never changes (its metadata is its
// identity).
//
// Errors: bad metadata is InvalidArgument naming the field; a trigger a
// source refuses, or a TriggerAuthentication that cannot be read, is
// FailedPrecondition; no value yet, or a failing read, is Unavailable.
// No error, log line or metric shows a metadata value or a parameter.
package companion
