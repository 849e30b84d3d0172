package metricsapi

import (
	"fmt"
	"net/url"
	"time"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/httpclient"
)

// Type is the trigger type this package serves.
const Type = "metrics-api"

// DefaultTimeout is KEDA's default HTTP timeout (KEDA_HTTP_DEFAULT_TIMEOUT,
// 3000 ms), used when the trigger sets no timeout.
const DefaultTimeout = 3 * time.Second

// The formats of format.
const (
	FormatJSON       = "json"
	FormatYAML       = "yaml"
	FormatXML        = "xml"
	FormatPrometheus = "prometheus"
)

// The fields of a metrics-api trigger: KEDA's, all from the trigger's
// metadata (credentials: see httpclient.ParseAuth).
var (
	fieldURL         = sources.Field[*url.URL]{Name: "url", Required: true, Target: true, Parse: httpclient.URL}
	fieldFormat      = sources.Field[string]{Name: "format", Default: FormatJSON, Parse: sources.OneOf(FormatJSON, FormatYAML, FormatXML, FormatPrometheus)}
	fieldLocation    = sources.Field[string]{Name: "valueLocation", Required: true}
	fieldTarget      = sources.Field[float64]{Name: "targetValue", Required: true, Parse: httpclient.PositiveFloat}
	fieldActivation  = sources.Field[float64]{Name: "activationTargetValue", Parse: httpclient.Float}
	fieldUnsafeSSL   = sources.Field[bool]{Name: "unsafeSsl", Parse: sources.Bool}
	fieldTimeout     = sources.Field[time.Duration]{Name: "timeout", Default: DefaultTimeout, Parse: httpclient.Timeout}
	fieldAggregate   = sources.Field[bool]{Name: "aggregateFromKubeServiceEndpoints", Parse: sources.Bool}
	fieldAggregation = sources.Field[string]{Name: "aggregationType", Default: "average", Parse: sources.OneOf("average", "sum", "max", "min")}
)

// Config is the parsed, validated metadata and authentication of one
// metrics-api trigger. Its credentials are unexported and never printed.
type Config struct {
	// URL is the endpoint read.
	URL *url.URL
	// Format is how the answer is read: json, yaml or prometheus.
	Format string
	// ValueLocation says where the number is: a GJSON path for json, a
	// dot-separated path for yaml, a metric selector for prometheus.
	ValueLocation string
	// TargetValue is the HPA target; ActivationTargetValue the activation
	// threshold.
	TargetValue, ActivationTargetValue float64
	// UnsafeSSL skips verifying the server's certificate.
	UnsafeSSL bool
	// Timeout bounds one request.
	Timeout time.Duration

	selector selector // format prometheus
	auth     httpclient.Auth
}

// String describes c without credentials (nor the URL's query, which may
// hold a key).
func (c Config) String() string {
	return fmt.Sprintf("metricsapi.Config{URL:%q Format:%s ValueLocation:%q TargetValue:%g ActivationTargetValue:%g UnsafeSSL:%t Timeout:%s Auth:%s}",
		httpclient.Safe(c.URL), c.Format, c.ValueLocation, c.TargetValue, c.ActivationTargetValue, c.UnsafeSSL, c.Timeout, c.auth)
}

// GoString is String, so that %#v does not print the credentials either.
func (c Config) GoString() string { return c.String() }

// ParseConfig validates the metadata and authentication of t after
// applying defaults. Errors name the field and, when it came from the
// trigger's metadata, the value; never a secret. It has no side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	var err error
	fieldURL.ReadInto(l, &c.URL)
	fieldFormat.ReadInto(l, &c.Format)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	if c.Format == FormatXML {
		// encoding/xml cannot decode into a map: KEDA's xml reading fails
		// on every answer.
		return Config{}, l.Invalid(fieldFormat.Name, "not supported (KEDA's xml format fails on every answer): use json, yaml or prometheus")
	}
	if c.ValueLocation, err = fieldLocation.Read(l); err != nil {
		return Config{}, err
	}
	if c.Format == FormatPrometheus {
		if c.selector, err = parseSelector(c.ValueLocation); err != nil {
			return Config{}, l.Invalid(fieldLocation.Name, err.Error())
		}
	}
	fieldTarget.ReadInto(l, &c.TargetValue)
	fieldActivation.ReadInto(l, &c.ActivationTargetValue)
	fieldUnsafeSSL.ReadInto(l, &c.UnsafeSSL)
	fieldTimeout.ReadInto(l, &c.Timeout)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	aggregate, err := fieldAggregate.Read(l)
	if err != nil {
		return Config{}, err
	}
	if aggregate {
		return Config{}, l.Invalid(fieldAggregate.Name, "not supported by pushscale: point url at one endpoint")
	}
	if _, err = fieldAggregation.Read(l); err != nil {
		return Config{}, err
	}
	if c.auth, err = httpclient.ParseAuth(l, httpclient.ModeAPIKey, httpclient.ModeBasic, httpclient.ModeBearer, httpclient.ModeTLS); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Spec returns what the scaler needs to know of a trigger with config c at
// index: KEDA's metric name s<index>-metric-api-<valueLocation>.
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{MetricName: v1alpha1.MetricName(index, "metric-api-"+c.ValueLocation), Target: c.TargetValue, Activation: c.ActivationTargetValue}
}
