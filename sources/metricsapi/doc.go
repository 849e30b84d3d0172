// Package metricsapi is the source for KEDA's metrics-api trigger: a
// number read from an HTTP endpoint's answer, with KEDA's metadata keys
// (url, format, valueLocation, targetValue, activationTargetValue,
// unsafeSsl, timeout), its authentication (authModes apiKey with method
// header or query and keyParamName, basic, bearer, tls, with the
// TriggerAuthentication parameters apiKey, username and password,
// bearerToken, ca, cert and key) and its metric name,
// s<i>-metric-api-<valueLocation>.
//
// # Polled
//
// An HTTP endpoint pushes nothing: url is read on the shared Scheduler
// every pollingInterval, jittered, as KEDA does, and the trigger reports
// PushHealthy=False NotSupported. Triggers reading the same URL the same
// way share one request. Answers are bounded to 4 MiB and every request by
// timeout (default 3 s, KEDA's). The read schedule bounds every read to 10 s
// (sources.SchedulerOptions.ReadTimeout): a longer timeout is cut there.
//
// # Formats
//
//   - json (the default): valueLocation is a GJSON path
//     (github.com/tidwall/gjson, as KEDA); the value is a number, or a
//     string holding a Kubernetes quantity ("10k", "250m").
//   - yaml: valueLocation is a dot-separated path, numbers indexing lists;
//     the value as for json.
//   - prometheus: the answer is the Prometheus text exposition format and
//     valueLocation a metric selector, name{label="value",...}; the first
//     untyped, counter or gauge sample of that name carrying those labels
//     is read.
//
// # Differences from KEDA
//
// format xml is refused: KEDA decodes XML into a map, which Go's
// encoding/xml cannot do, so it fails on every answer. In the prometheus
// format, valueLocation takes equality matchers only (KEDA parses any
// PromQL selector and compares every matcher as an equality).
// aggregateFromKubeServiceEndpoints is refused (pushscale reads one URL);
// authModes oauth and custom are refused (KEDA's metrics-api does not
// apply them). targetValue is required and must be greater than 0, as
// KEDA requires it for a ScaledObject. NaN and ±Inf are errors. A refused
// credential (401, 403) is an error naming the TriggerAuthentication
// parameters, never their values; errors show the URL without its query.
package metricsapi
