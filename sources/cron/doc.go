// Package cron is the source for KEDA's cron trigger: desiredReplicas
// inside a window that opens at each time the start expression names and
// closes at each time the end expression names, 0 outside it, in the
// trigger's IANA time zone; KEDA's metadata keys (timezone, start, end,
// desiredReplicas), metric name (s<i>-cron-<tz>-<start>-<end>) and HPA
// target (1, so that the HPA asks for desiredReplicas replicas).
//
// # Timers, not polls
//
// Nothing is read: a trigger's value is a function of the time. It is
// recorded when the trigger is watched and again at each edge of its
// window, on a timer of the injected clock (sources.Deps.Clock) armed for
// the next time either expression fires. The loop also wakes at least once
// a minute, so that a step of the wall clock (NTP, a suspended machine) is
// noticed within a minute; a wake between edges computes and records
// nothing. pollingInterval plays no part.
//
// The window is KEDA's: at time t, with s and e the next times after t
// that start and end fire, the trigger is inside the window when e comes
// no later than s (the last edge was a start). A start that fires again
// before the end (start every hour, end at 18:00) keeps the window open.
//
// # PushHealthy
//
// A cron trigger reports PushHealthy=True with the reason Subscribed: of
// the condition's reasons it is the one whose meaning holds (the value
// changes without a poll, at the moment it changes); the message says the
// edges are timers of the gateway's clock. NotSupported would claim the
// trigger is polled every pollingInterval, which it is not.
//
// # Differences from KEDA
//
// Errors KEDA finds on every read are found once, when the trigger is
// parsed, naming the field: an unknown time zone, and an expression that
// never fires (31 February). desiredReplicas must be a positive whole
// number (KEDA refuses only 0). The time zone database is built into the
// binary (time/tzdata): the gateway's image has none.
package cron
