// Package external is the source for KEDA's external and external-push
// triggers: the gateway is a client of an external scaler (KEDA's
// externalscaler.proto, api/externalscaler) and calls it as KEDA's
// operator does, so existing scalers (the KEDA HTTP add-on's among them)
// drive pushscale unchanged.
//
// # Configuration
//
// KEDA's keys: scalerAddress (required, host:port; pushscale refuses
// anything else, where KEDA passes any gRPC target on), enableTLS,
// unsafeSsl; from the TriggerAuthentication caCert, tlsClientCert and
// tlsClientKey. TLS is on with enableTLS or any of that material, as in
// KEDA. Bad material is refused by Parse with the parameter's name (the
// ScaledObject is Ready=False saying which), never its content. The whole
// metadata is sent as scalerMetadata, each *FromEnv key carrying the
// variable's value, a key whose variable is unset left out (KEDA's rule);
// it may hold secrets, so it is never logged, and appears in ids only as
// a keyed hash.
//
// # Metric spec
//
// Parse calls GetMetricSpec, as KEDA does whenever it builds the HPA: the
// metric name is s<index>-<the scaler's metricName>, not normalised; the
// target is targetSizeFloat when > 0, else targetSize; only the first spec
// is used (pushscale has one metric per trigger). The answer is kept while
// the trigger is watched: a reconcile during a scaler outage keeps the
// spec instead of making the object invalid. A scaler that never answered
// makes Parse fail, and the owner is checked again (Deps.Recheck) after
// KEDA's backoff until it answers. Parse is therefore the one Parse in
// pushscale that does I/O (bounded by Options.Timeout).
//
// # Reads and activity
//
// A read is what KEDA's operator does on every poll: GetMetrics for the
// metric name without the s<i>- prefix (the values returned summed, as the
// HPA sums them, each the float field when > 0, else the integer), then
// IsActive. The store has one activity per trigger: IsActive's answer is
// recorded with the value (sources.ReportActive → store.RecordActive), so
// the scaler's decision and the read schedule take the scaler's word for
// activity whatever the value, as KEDA does; the trigger's activation
// threshold plays no part (Spec.Activation is 0). The value feeds the HPA
// (1↔N) through the metrics API from memory: an HPA request costs the
// scaler nothing.
//
// Reads go through the family's sources.Scheduler: once when a trigger is
// watched, on every push, every pollingInterval while active or while the
// push path is down, and on the slow repair sweep while idle and pushed.
// Triggers sending identical requests (same owner and metadata) share
// their reads and their stream.
//
// # external: polled
//
// An external trigger is read every pollingInterval, as KEDA reads it, and
// reports PushHealthy=False NotSupported.
//
// # external-push: pushed
//
// One StreamIsActive per distinct request. Every message is a hint for the
// Scheduler: true is additive (the leading edge records 1 at once when the
// last read found 0, so a target at zero wakes before the read that
// follows; when the last value was above 0 but inactive, the read that
// follows, at once, decides); false is a plain hint: the read that follows
// finds the scaler inactive, the decision honours it and the target
// scales to zero after cooldownPeriod. KEDA ignores false (PR #7116) and
// waits for its next poll; pushscale reads at once, and since the read is
// authoritative (IsActive of the scaler, any other trigger still active
// keeping the object active), a false cannot deactivate what another
// trigger keeps active (KEDA #6986).
//
// A stream is reported Subscribed once it has delivered a message or lived
// a second (gRPC opens a stream before the scaler answers; a scaler
// without StreamIsActive refuses it only then, and is reported
// NotSupported). A lost stream is SubscriptionLost, polled every
// pollingInterval meanwhile, and opened again after KEDA's backoff: 2 s,
// doubled per failure up to 1 min, back to 2 s after a healthy stream (one
// that delivered a message or ended cleanly). Every stream opened is
// followed by a read, so an activation while the scaler or the connection
// was away is not lost. With --disable-push external-push no stream is
// opened: DisabledByConfig, polled every pollingInterval.
//
// # Connections
//
// One gRPC connection (KEDA's round_robin service config) per address and
// TLS settings (sources.Endpoints), shared by every trigger, external and
// external-push alike, and closed when the last one leaves. Parse borrows
// the connection when it is open and otherwise makes one for the call.
package external
