// Package webhook is the source for triggers of type "webhook": HTTP streams
// that anyone can push values to. Here the gateway is the source of truth:
// nothing is ever read from elsewhere, and a stream nobody has posted to is
// known to be at 0.
//
// A stream is a level named by namespace and stream name, shared by every
// trigger in that namespace whose metadata names it. Clients change it with
// POST /v1/namespaces/{namespace}/streams/{stream} (see Source.Handler):
//
//   - application/json {"value": n} sets the level, {"delta": n} adds to it
//     (the level never goes below 0);
//   - CloudEvents in structured, batch or binary mode: an event whose data is
//     a JSON object holding value or delta acts as above; any other event is
//     one arrival.
//
// The level a trigger sees is the level set by value and delta plus the
// arrivals within the trigger's own windowSeconds, so a stream fed by plain
// events falls back to 0 by itself as they age; a value replaces both. With
// ttlSeconds a stream that receives nothing for that long falls to 0 (the
// shortest ttlSeconds of the triggers watching a stream applies to it).
//
// For a ScaledJob the level is its queue length: the sender adds
// {"delta": 1} per unit of work and each Job posts {"delta": -1} when its
// unit is done (or the sender relies on arrivals ageing out of the
// window), and the ScaledJob creates Jobs from it by KEDA's formulas.
//
// Every change is recorded at once, synchronously, for every trigger
// watching the stream, before the request is answered; timers (Start) record
// the changes that time makes. One stream's changes are recorded in order:
// its lock covers each change and the Record calls that publish it.
//
// Streams are authenticated by the triggers that watch them: a bearer token,
// an HMAC-SHA256 signature (schemes sha256=, GitHub's, and v2=, which also
// binds method and path; see signature.go), or both. A timestamped
// signature is accepted once within its window; requireTimestamp makes the
// timestamp mandatory. Triggers that share a stream must agree on its
// authentication; a trigger that disagrees is refused by Watch.
//
// When the last trigger of a stream goes, the stream answers 404 again, but
// its level is kept for Options.Retention so that a trigger watching it
// again (an object deleted and recreated) resumes from it. Levels and
// Restore let the gateway save levels across restarts.
package webhook
