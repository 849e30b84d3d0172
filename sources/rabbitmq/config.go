package rabbitmq

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
)

// Type is the trigger type this package serves.
const Type = "rabbitmq"

// DefaultValue is KEDA's value when neither mode, value nor queueLength is
// given (QueueLength 20).
const DefaultValue = 20

// The modes of KEDA's rabbitmq trigger.
const (
	ModeQueueLength                  = "QueueLength"
	ModeMessageRate                  = "MessageRate"
	ModeDeliverGetRate               = "DeliverGetRate"
	ModePublishedToDeliveredRatio    = "PublishedToDeliveredRatio"
	ModeExpectedQueueConsumptionTime = "ExpectedQueueConsumptionTime"
)

// The protocols: amqp reads by passive queue.declare, http through the
// management API.
const (
	ProtocolAMQP = "amqp"
	ProtocolHTTP = "http"
)

var modes = []string{ModeQueueLength, ModeMessageRate, ModeDeliverGetRate, ModePublishedToDeliveredRatio, ModeExpectedQueueConsumptionTime}

// The fields of a rabbitmq trigger: KEDA's (its rabbitmq_scaler.go: host
// from metadata, then the TriggerAuthentication, then hostFromEnv;
// credentials and TLS from the TriggerAuthentication), then pushscale's
// shadowBindings and managementHost.
var (
	fieldHost       = sources.Field[string]{Name: "host", From: sources.MetaAuthEnv, Required: true, Target: true}
	fieldProtocol   = sources.Field[string]{Name: "protocol", From: metaAuth, Default: "auto", Parse: sources.OneOf("auto", ProtocolAMQP, ProtocolHTTP)}
	fieldQueue      = sources.Field[string]{Name: "queueName", Required: true}
	fieldVhost      = sources.Field[string]{Name: "vhostName", From: metaAuth}
	fieldMode       = sources.Field[string]{Name: "mode"}
	fieldValue      = sources.Field[float64]{Name: "value", Parse: sources.Number}
	fieldLength     = sources.Field[float64]{Name: "queueLength", Parse: sources.Number}
	fieldActivation = sources.Field[float64]{Name: "activationValue", Parse: sources.Number}
	fieldRegex      = sources.Field[bool]{Name: "useRegex", Parse: sources.Bool}
	fieldExclude    = sources.Field[bool]{Name: "excludeUnacknowledged", Parse: sources.Bool}
	fieldPageSize   = sources.Field[int64]{Name: "pageSize", Default: 100, Parse: sources.PositiveInt}
	fieldOperation  = sources.Field[string]{Name: "operation", Default: "sum", Parse: sources.OneOf("sum", "avg", "max")}
	fieldTimeout    = sources.Field[time.Duration]{Name: "timeout", Parse: duration}
	fieldUnsafeSSL  = sources.Field[bool]{Name: "unsafeSsl", Parse: sources.Bool}

	fieldUsername    = sources.Field[string]{Name: "username", From: authEnv}
	fieldPassword    = sources.Field[string]{Name: "password", From: authEnv}
	fieldTLS         = sources.Field[string]{Name: "tls", From: sources.AuthOnly, Default: "disable", Parse: sources.OneOf("enable", "disable")}
	fieldCA          = sources.Field[string]{Name: "ca", From: sources.AuthOnly}
	fieldCert        = sources.Field[string]{Name: "cert", From: sources.AuthOnly}
	fieldKey         = sources.Field[string]{Name: "key", From: sources.AuthOnly}
	fieldKeyPassword = sources.Field[string]{Name: "keyPassword", From: sources.AuthOnly}

	fieldShadowBindings = sources.Field[string]{Name: "shadowBindings"}
	fieldManagementHost = sources.Field[string]{Name: "managementHost", Target: true}
)

// KEDA's lookup orders of this trigger that sources does not name.
var (
	metaAuth = sources.Order{sources.FromMetadata, sources.FromAuth}
	authEnv  = sources.Order{sources.FromAuth, sources.FromEnv}
)

// Binding is one binding of the watched queue that its shadow queue copies:
// an exchange, a routing key and, for headers exchanges, the arguments.
type Binding struct {
	Exchange, RoutingKey string
	Args                 amqp.Table
}

func (b Binding) String() string { return b.Exchange + ":" + b.RoutingKey }

// Config is the parsed, validated metadata and authentication of one
// rabbitmq trigger. The host URL and credentials are unexported: they may
// hold secrets and are never printed.
type Config struct {
	// Protocol is amqp or http (auto resolved from the host's scheme).
	Protocol string
	// QueueName is the queue (a regular expression with UseRegex).
	QueueName string
	// VhostName overrides the host's vhost when not empty.
	VhostName string
	// Mode is one of KEDA's modes; QueueLength unless http.
	Mode string
	// Value is the HPA target; ActivationValue the activation threshold.
	Value, ActivationValue float64
	// UseRegex, PageSize and Operation: queues matched by a regular
	// expression through the management API, combined by sum, avg or max.
	UseRegex  bool
	PageSize  int64
	Operation string
	// ExcludeUnacknowledged counts ready messages only (http).
	ExcludeUnacknowledged bool
	// Timeout bounds one management API request (http); 0: the source's.
	Timeout time.Duration
	// UnsafeSSL skips certificate verification.
	UnsafeSSL bool
	// TLS is tls: enable.
	TLS bool
	// ShadowBindings are the bindings the shadow queue copies, from
	// shadowBindings; nil: learnt from the management API.
	ShadowBindings []Binding
	// ManagementHost is managementHost: the management API to learn the
	// queue's bindings from (amqp); empty: http(s)://<host>:15672 (15671
	// with amqps).
	ManagementHost string

	host               string
	username, password string
	tls                clienttls.Params
}

// String describes c without its host's credentials or its secrets.
func (c Config) String() string {
	return fmt.Sprintf("rabbitmq.Config{Host:%q Protocol:%q QueueName:%q VhostName:%q Mode:%q Value:%g ActivationValue:%g UseRegex:%t PageSize:%d Operation:%q ExcludeUnacknowledged:%t Timeout:%s TLS:%t ShadowBindings:%v}",
		redact(c.host), c.Protocol, c.QueueName, c.VhostName, c.Mode, c.Value, c.ActivationValue, c.UseRegex, c.PageSize, c.Operation, c.ExcludeUnacknowledged, c.Timeout, c.TLS, c.ShadowBindings)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// Spec returns what the scaler needs to know of a trigger with config c at
// index in its owner's spec.triggers: KEDA's metric name
// s<index>-rabbitmq-<url.QueryEscape(queueName)>.
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, "rabbitmq-"+url.QueryEscape(c.QueueName)),
		Target:     c.Value,
		Activation: c.ActivationValue,
	}
}

// ParseConfig validates the metadata and authentication of t after
// applying defaults, with KEDA's rules. Errors name the field and, when it
// came from the trigger's metadata and is no secret, the value. It has no
// side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	fieldHost.ReadInto(l, &c.host)
	fieldProtocol.ReadInto(l, &c.Protocol)
	fieldQueue.ReadInto(l, &c.QueueName)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	c.VhostName, _ = fieldVhost.Read(l)
	if err := c.readNumbers(l); err != nil {
		return Config{}, err
	}
	if err := c.readOptions(l); err != nil {
		return Config{}, err
	}
	if err := c.readAuth(l); err != nil {
		return Config{}, err
	}
	if err := c.resolveProtocol(l); err != nil {
		return Config{}, err
	}
	if err := c.checkHTTPOnly(l); err != nil {
		return Config{}, err
	}
	if err := c.readPush(l); err != nil {
		return Config{}, err
	}
	return c, nil
}

// readNumbers reads mode, value, the deprecated queueLength and
// activationValue with KEDA's rules: nothing given is QueueLength 20;
// queueLength alone is QueueLength with that value; otherwise mode and
// value are both required.
func (c *Config) readNumbers(l *sources.Lookup) error {
	var err error
	c.Mode, _ = fieldMode.Read(l)
	if c.Value, err = fieldValue.Read(l); err != nil {
		return err
	}
	length, err := fieldLength.Read(l)
	if err != nil {
		return err
	}
	if c.ActivationValue, err = fieldActivation.Read(l); err != nil {
		return err
	}
	switch {
	case length == 0 && c.Mode == "" && c.Value == 0:
		c.Mode, c.Value = ModeQueueLength, DefaultValue
	case length != 0 && (c.Mode != "" || c.Value != 0):
		return l.Errorf("queueLength: deprecated, and not allowed with mode or value: use mode and value")
	case length != 0:
		c.Mode, c.Value = ModeQueueLength, length
	case c.Mode == "":
		return l.Errorf("mode: required with value (one of %s)", strings.Join(modes, ", "))
	case c.Value == 0:
		return l.Errorf("value: required with mode")
	case !slices.Contains(modes, c.Mode):
		return l.Invalid(fieldMode.Name, "must be one of "+strings.Join(modes, ", "))
	}
	return nil
}

// readOptions reads the management API options and unsafeSsl.
func (c *Config) readOptions(l *sources.Lookup) error {
	var err error
	if c.UseRegex, err = fieldRegex.Read(l); err != nil {
		return err
	}
	if c.ExcludeUnacknowledged, err = fieldExclude.Read(l); err != nil {
		return err
	}
	if c.PageSize, err = fieldPageSize.Read(l); err != nil {
		return err
	}
	if c.Operation, err = fieldOperation.Read(l); err != nil {
		return err
	}
	if c.Timeout, err = fieldTimeout.Read(l); err != nil {
		return err
	}
	if c.UnsafeSSL, err = fieldUnsafeSSL.Read(l); err != nil {
		return err
	}
	return nil
}

// readAuth reads the credentials and the TLS parameters.
func (c *Config) readAuth(l *sources.Lookup) error {
	c.username, _ = fieldUsername.Read(l)
	c.password, _ = fieldPassword.Read(l)
	if (c.username == "") != (c.password == "") {
		return l.Errorf("username and password (from TriggerAuthentication or the environment): give both or neither")
	}
	mode, err := fieldTLS.Read(l)
	if err != nil {
		return err
	}
	c.TLS = mode == "enable"
	c.tls.CA, _ = fieldCA.Read(l)
	c.tls.Cert, _ = fieldCert.Read(l)
	c.tls.Key, _ = fieldKey.Read(l)
	c.tls.KeyPassword, _ = fieldKeyPassword.Read(l)
	if (c.tls.Cert == "") != (c.tls.Key == "") {
		return l.Errorf("cert and key (from TriggerAuthentication): give both or neither")
	}
	return nil
}

// resolveProtocol checks the host and resolves protocol auto from its
// scheme (amqp, amqps: amqp; http, https: http).
func (c *Config) resolveProtocol(l *sources.Lookup) error {
	u, err := url.Parse(c.host)
	if err != nil {
		return l.InvalidValue(fieldHost.Name, redact(c.host), "must be a URL (amqp://, amqps://, http:// or https://)")
	}
	scheme := strings.ToLower(u.Scheme)
	byScheme := map[string]string{"amqp": ProtocolAMQP, "amqps": ProtocolAMQP, "http": ProtocolHTTP, "https": ProtocolHTTP}
	if c.Protocol == "auto" {
		p, ok := byScheme[scheme]
		if !ok {
			return l.InvalidValue(fieldHost.Name, redact(c.host), "unknown scheme "+strconv.Quote(u.Scheme)+" with protocol auto: must be amqp, amqps, http or https")
		}
		c.Protocol = p
	}
	if byScheme[scheme] != c.Protocol {
		return l.InvalidValue(fieldHost.Name, redact(c.host), "scheme must match protocol "+c.Protocol)
	}
	if u.Host == "" {
		return l.InvalidValue(fieldHost.Name, redact(c.host), "must name a host")
	}
	if c.Protocol == ProtocolAMQP {
		if _, err := amqp.ParseURI(c.host); err != nil {
			return l.InvalidValue(fieldHost.Name, redact(c.host), "not an AMQP URI")
		}
	}
	return nil
}

// checkHTTPOnly refuses what only the management API can do on amqp.
func (c *Config) checkHTTPOnly(l *sources.Lookup) error {
	if c.Protocol == ProtocolHTTP {
		return nil
	}
	switch {
	case c.UseRegex:
		return l.Errorf("useRegex: true needs protocol http (the management API)")
	case c.ExcludeUnacknowledged:
		return l.Errorf("excludeUnacknowledged: true needs protocol http (the management API)")
	case c.Mode != ModeQueueLength:
		return l.Errorf("mode %s: needs protocol http (the management API), not amqp", c.Mode)
	case c.Timeout != 0:
		return l.Errorf("timeout: not supported with protocol amqp")
	}
	return nil
}

// readPush reads pushscale's shadowBindings and managementHost.
func (c *Config) readPush(l *sources.Lookup) error {
	raw, _ := fieldShadowBindings.Read(l)
	if raw != "" {
		for _, item := range strings.Split(raw, ",") {
			item = strings.TrimSpace(item)
			ex, key, ok := strings.Cut(item, ":")
			if !ok || ex == "" {
				return l.InvalidValue(fieldShadowBindings.Name, item, "must be a comma separated list of exchange:routingKey (the default exchange cannot be tapped)")
			}
			c.ShadowBindings = append(c.ShadowBindings, Binding{Exchange: ex, RoutingKey: key})
		}
	}
	var err error
	if c.ManagementHost, err = fieldManagementHost.Read(l); err != nil {
		return err
	}
	if c.ManagementHost != "" {
		u, err := url.Parse(c.ManagementHost)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return l.InvalidValue(fieldManagementHost.Name, redact(c.ManagementHost), "must be an http:// or https:// URL")
		}
		if u.User != nil {
			return l.Errorf("managementHost: must not hold credentials (the host's are used)")
		}
	}
	return nil
}

// duration parses KEDA's durations: a Go duration ("5s") or whole
// milliseconds, not negative.
func duration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return 0, errors.New("must not be negative")
		}
		return d, nil
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil || ms < 0 || ms > math.MaxInt64/int64(time.Millisecond) {
		return 0, errors.New("must be a duration (5s) or a whole number of milliseconds ≥ 0")
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// redact hides the password of a URL ("amqp://user:xxxxx@host/").
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		// Not a URL: nothing of it is shown past a possible userinfo.
		if at := strings.LastIndexByte(raw, '@'); at >= 0 {
			return "xxxxx@" + raw[at+1:]
		}
		return raw
	}
	return u.Redacted()
}

// amqpURI is the URI the gateway connects with: the host's, with vhostName
// and the TriggerAuthentication's credentials when given.
func (c Config) amqpURI() amqp.URI {
	u, _ := amqp.ParseURI(c.host) // checked by ParseConfig
	if c.VhostName != "" {
		u.Vhost = c.VhostName
	}
	if c.username != "" {
		u.Username, u.Password = c.username, c.password
	}
	return u
}

// managementBase returns the management API's base URL (no credentials)
// and the vhost path segment for the host, as KEDA derives them for http:
// the host's last path segment is the vhost ("/" when empty; vhostName
// overrides it), what precedes it a path prefix. For amqp triggers the
// base is managementHost or the AMQP host on port 15672 (15671 for amqps).
func (c Config) managementBase() (base *url.URL, vhost string) {
	if c.Protocol == ProtocolAMQP {
		u := c.amqpURI()
		vhost = url.PathEscape(u.Vhost)
		if c.ManagementHost != "" {
			base, _ = url.Parse(c.ManagementHost)
			base.Path = strings.TrimSuffix(base.Path, "/")
			return base, vhost
		}
		scheme, port := "http", "15672"
		if u.Scheme == "amqps" {
			scheme, port = "https", "15671"
		}
		return &url.URL{Scheme: scheme, Host: hostPort(u.Host, port)}, vhost
	}
	u, _ := url.Parse(c.host)
	p := u.EscapedPath()
	parts := strings.Split(p, "/")
	vhost = parts[len(parts)-1]
	prefix := path.Join(parts[:len(parts)-1]...)
	if prefix != "" {
		prefix = "/" + prefix
	}
	if c.VhostName != "" {
		vhost = url.PathEscape(c.VhostName)
	}
	if vhost == "" {
		vhost = "%2F"
	}
	b := &url.URL{Scheme: u.Scheme, Host: u.Host}
	b.RawPath = prefix
	b.Path, _ = url.PathUnescape(prefix)
	return b, vhost
}

// hostPort joins a host (IPv6 or not) and a port.
func hostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// httpCredentials are the management API's credentials: the
// TriggerAuthentication's, else the host URL's (http) or the AMQP URI's.
func (c Config) httpCredentials() (user, password string) {
	if c.username != "" {
		return c.username, c.password
	}
	if c.Protocol == ProtocolAMQP {
		u := c.amqpURI()
		return u.Username, u.Password
	}
	if u, err := url.Parse(c.host); err == nil && u.User != nil {
		p, _ := u.User.Password()
		return u.User.Username(), p
	}
	return "", ""
}

// tlsParams are the TLS parameters with unsafeSsl.
func (c Config) tlsParams() clienttls.Params {
	p := c.tls
	p.Unsafe = c.UnsafeSSL
	return p
}
