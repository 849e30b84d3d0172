package prometheus

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/httpclient"
)

// Type is the trigger type this package serves.
const Type = "prometheus"

// DefaultTimeout is KEDA's default HTTP timeout (KEDA_HTTP_DEFAULT_TIMEOUT,
// 3000 ms), used when the trigger sets no timeout.
const DefaultTimeout = 3 * time.Second

// The fields of a prometheus trigger: KEDA's, all from the trigger's
// metadata (credentials: see httpclient.ParseAuth).
var (
	fieldServer      = sources.Field[*url.URL]{Name: "serverAddress", Required: true, Target: true, Parse: httpclient.URL}
	fieldQuery       = sources.Field[string]{Name: "query", Required: true}
	fieldParams      = sources.Field[map[string]string]{Name: "queryParameters", Parse: httpclient.Pairs}
	fieldThreshold   = sources.Field[float64]{Name: "threshold", Required: true, Parse: httpclient.PositiveFloat}
	fieldActivation  = sources.Field[float64]{Name: "activationThreshold", Parse: httpclient.Float}
	fieldNamespace   = sources.Field[string]{Name: "namespace"}
	fieldHeaders     = sources.Field[string]{Name: "customHeaders"}
	fieldIgnoreNulls = sources.Field[bool]{Name: "ignoreNullValues", Default: true, Parse: sources.Bool}
	fieldUnsafeSSL   = sources.Field[bool]{Name: "unsafeSsl", Parse: sources.Bool}
	fieldTimeout     = sources.Field[time.Duration]{Name: "timeout", Default: DefaultTimeout, Parse: httpclient.Timeout}
)

// Config is the parsed, validated metadata and authentication of one
// prometheus trigger. Its credentials and custom headers (which may carry
// a key) are unexported and never printed.
type Config struct {
	// ServerAddress is the Prometheus (or Thanos, Mimir...) base URL; the
	// query API is at <ServerAddress>/api/v1/query.
	ServerAddress *url.URL
	// Query is the PromQL instant query.
	Query string
	// QueryParameters are added to the query API's request.
	QueryParameters map[string]string
	// Threshold is the HPA target; ActivationThreshold the activation
	// threshold.
	Threshold, ActivationThreshold float64
	// Namespace is sent as the namespace parameter (Thanos querier's
	// tenancy).
	Namespace string
	// IgnoreNullValues turns an empty result, null, NaN or ±Inf into 0;
	// when false they are errors.
	IgnoreNullValues bool
	// UnsafeSSL skips verifying the server's certificate.
	UnsafeSSL bool
	// Timeout bounds one request.
	Timeout time.Duration

	headers map[string]string
	auth    httpclient.Auth
}

// String describes c without credentials or header values.
func (c Config) String() string {
	return fmt.Sprintf("prometheus.Config{ServerAddress:%q Query:%q QueryParameters:%v Threshold:%g ActivationThreshold:%g Namespace:%q IgnoreNullValues:%t UnsafeSSL:%t Timeout:%s CustomHeaders:%v Auth:%s}",
		httpclient.Safe(c.ServerAddress), c.Query, c.QueryParameters, c.Threshold, c.ActivationThreshold, c.Namespace, c.IgnoreNullValues, c.UnsafeSSL, c.Timeout,
		slices.Sorted(maps.Keys(c.headers)), c.auth)
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
	fieldServer.ReadInto(l, &c.ServerAddress)
	fieldQuery.ReadInto(l, &c.Query)
	fieldParams.ReadInto(l, &c.QueryParameters)
	fieldThreshold.ReadInto(l, &c.Threshold)
	fieldActivation.ReadInto(l, &c.ActivationThreshold)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	c.Namespace, _ = fieldNamespace.Read(l)
	if raw, _ := fieldHeaders.Read(l); raw != "" {
		// Header values may be keys: the error does not show them.
		if c.headers, err = httpclient.Headers(raw); err != nil {
			return Config{}, l.Errorf("customHeaders: %v", err)
		}
	}
	fieldIgnoreNulls.ReadInto(l, &c.IgnoreNullValues)
	fieldUnsafeSSL.ReadInto(l, &c.UnsafeSSL)
	fieldTimeout.ReadInto(l, &c.Timeout)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	if c.auth, err = httpclient.ParseAuth(l, httpclient.ModeBearer, httpclient.ModeBasic, httpclient.ModeTLS, httpclient.ModeCustom); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Spec returns what the scaler needs to know of a trigger with config c at
// index: KEDA's metric name s<index>-prometheus.
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{MetricName: v1alpha1.MetricName(index, "prometheus"), Target: c.Threshold, Activation: c.ActivationThreshold}
}

// queryURL is the query API's URL for an instant query at now.
func (c Config) queryURL(now time.Time) string {
	q := url.Values{}
	q.Set("query", c.Query)
	q.Set("time", now.UTC().Format(time.RFC3339))
	if c.Namespace != "" {
		q.Set("namespace", c.Namespace)
	}
	for k, v := range c.QueryParameters {
		q.Set(k, v)
	}
	u := *c.ServerAddress
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/query"
	u.RawPath = ""
	if u.RawQuery != "" {
		u.RawQuery += "&" + q.Encode()
	} else {
		u.RawQuery = q.Encode()
	}
	return u.String()
}
