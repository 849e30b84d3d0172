// Package prometheus is the source for KEDA's prometheus trigger: one
// instant query on a Prometheus-compatible query API (GET
// <serverAddress>/api/v1/query), with KEDA's metadata keys (serverAddress,
// query, threshold, activationThreshold, namespace, customHeaders,
// queryParameters, ignoreNullValues, unsafeSsl, timeout), its
// authentication (authModes bearer, basic, tls, custom with the
// TriggerAuthentication parameters bearerToken, username and password,
// ca, cert and key, customAuthHeader and customAuthValue) and its metric
// name, s<i>-prometheus.
//
// # Polled
//
// Prometheus pushes nothing: every query runs on the shared Scheduler
// every pollingInterval, jittered, as KEDA does, and the trigger reports
// PushHealthy=False NotSupported. Triggers with the same server,
// credentials and query share one request.
//
// # The answer
//
// An instant vector must hold at most one series, as in KEDA; a scalar is
// read as its value (KEDA fails on it). An empty result, an empty sample,
// null, NaN and ±Inf read as 0 with ignoreNullValues (the default) and are
// errors without it. A range vector or a string is an error (KEDA reads
// them as empty). Answers are bounded to 1 MiB and every request by
// timeout (default 3 s, KEDA's). The read schedule bounds every read to 10 s
// (sources.SchedulerOptions.ReadTimeout): a longer timeout is cut there.
//
// # Differences from KEDA
//
// threshold must be greater than 0 (the HPA cannot use a target of 0).
// The namespace parameter is escaped. authModes oauth and apiKey, pod
// identities (Azure managed Prometheus, GCP, AWS SigV4) and identityOwner
// are not supported: a trigger naming such a mode is refused at parse.
// A refused credential (401, 403) is an error naming the
// TriggerAuthentication parameters, never their values.
package prometheus
