// Package sources connects trigger families (webhook, redis, kafka, ...) to
// the metric store.
//
// A Source is one trigger family. The scaler hands every trigger of every
// ScaledObject and ScaledJob to the Manager with Watch and takes it back with
// Unwatch; the Manager dispatches by trigger type. Sources write what they
// learn into a Sink (the gateway's store).
//
// What every source shares lives here, so that a source's package holds
// only its config, its reads and its push path:
//
//   - registry.go: the Registry of families (trigger types → constructor)
//     and the Manager, which builds each family with its Deps (sink,
//     clock, logger, --disable-push, and the family's own Scheduler) and
//     runs it;
//   - fields.go: KEDA's per-field lookup (metadata, *FromEnv,
//     TriggerAuthentication in each field's order), declared with Field,
//     with errors that name the field and never show a secret;
//   - endpoints.go: Endpoints, the reference-counted endpoints and
//     resources behind Watch, Unwatch and Start of a broker source;
//   - schedule*.go: the Scheduler, DESIGN.md's read schedule (single-flight
//     reads, hints, leading edge, polling while active or unhealthy,
//     repair sweeps);
//   - backoff.go: the wait between an endpoint's connection attempts;
//   - tls.go: the client TLS configuration of KEDA's TriggerAuthentication
//     parameters (ca, cert, key, keyPassword), shared by redis and rabbitmq;
//   - sourcetest: the conformance checks every source's test runs.
package sources

import (
	"context"
	"errors"
	"time"

	"github.com/pushscale/pushscale/store"
)

// ErrUnsupported is returned for a trigger type no source implements.
var ErrUnsupported = errors.New("trigger type not supported")

// Trigger is one trigger of one ScaledObject or ScaledJob, with its
// authentication already resolved.
type Trigger struct {
	// Key names the owner and the trigger's index in spec.triggers.
	Key store.Key
	// Type is the trigger type, e.g. "webhook".
	Type string
	// Name is the optional trigger name.
	Name string
	// Metadata is the trigger's metadata as written by the user.
	Metadata map[string]string
	// AuthParams are the parameters resolved from the trigger's
	// TriggerAuthentication. They hold secrets: never log them.
	AuthParams map[string]string
	// ResolvedEnv is the environment of the scale target's container, for
	// the *FromEnv metadata keys. It may hold secrets.
	ResolvedEnv map[string]string
	// PollingInterval is the owner's pollingInterval.
	PollingInterval time.Duration
	// ClusterAuth is set when AuthParams come from a
	// ClusterTriggerAuthentication and its targets are checked (see
	// ClusterAuth); nil otherwise.
	ClusterAuth *ClusterAuth
}

// Spec is what the scaler needs to know of a valid trigger.
type Spec struct {
	// MetricName is the full external metric name, "s<index>-<base>".
	MetricName string
	// Target is the HPA target value.
	Target float64
	// Activation is the activation threshold: active when value > Activation.
	Activation float64
}

// Sink receives what sources learn. *store.Store implements it. Its methods
// are safe for concurrent use and do not block.
type Sink interface {
	Record(k store.Key, value float64, at time.Time)
	Fail(k store.Key, err error)
	SetPush(k store.Key, p store.Push)
}

var _ Sink = (*store.Store)(nil)

// ActivitySink is implemented by a Sink that keeps the activity a read
// decided (see ReportActive); *store.Store does. With a Sink that does not,
// such a read is recorded by Record.
type ActivitySink interface {
	// RecordActive is Record of a value whose activity the read decided.
	RecordActive(k store.Key, value float64, active bool, at time.Time)
}

var _ ActivitySink = (*store.Store)(nil)

// Source is one trigger family.
type Source interface {
	// Parse validates t's metadata and authentication after applying
	// defaults. It has no side effects. An error names the field and the
	// bad value (never a secret), e.g. `webhook: targetValue "-1": must be
	// greater than 0`.
	Parse(t Trigger) (Spec, error)
	// Watch starts delivering values of t to the sink. Watching a key that
	// is already watched replaces the earlier trigger. An error means the
	// trigger cannot be watched; nothing is delivered for it then. (A
	// trigger refused because of another trigger is watched, and refused
	// by Check: see Checker.)
	Watch(t Trigger) error
	// Unwatch stops delivering values for k. Unknown keys are ignored.
	Unwatch(k store.Key)
	// Start runs the source: it blocks until ctx is done, reconnects inside
	// with backoff, returns nil on a clean stop, and never calls the sink
	// after returning. Watch and Unwatch may be called before Start.
	Start(ctx context.Context) error
}

// Checker is implemented by a source that may refuse a trigger it watches
// because of other triggers, so that all of them are refused whatever
// order they were watched in (the webhook source: triggers that share a
// stream with different authentication). Such a trigger stays watched
// until Unwatch, since its presence is what refuses the others; nothing is
// delivered for a refused trigger. When an answer may change because of
// another trigger's Watch or Unwatch, the source calls Deps.Recheck with
// the owner.
type Checker interface {
	// Check returns why watched trigger k is refused, nil when it is
	// served or not watched. The error names the field and the other
	// trigger, never a secret.
	Check(k store.Key) error
}
