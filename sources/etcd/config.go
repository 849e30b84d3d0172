package etcd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
)

// Type is the trigger type this package serves.
const Type = "etcd"

// DefaultWatchProgressNotifyInterval is KEDA's default, in seconds.
const DefaultWatchProgressNotifyInterval = 600

// authEnv is KEDA's order for username and password: the
// TriggerAuthentication, then the variable named by <field>FromEnv.
var authEnv = sources.Order{sources.FromAuth, sources.FromEnv}

// The fields of an etcd trigger, as KEDA's etcd_scaler.go reads them.
var (
	fieldEndpoints  = sources.Field[string]{Name: "endpoints", Required: true, Target: true}
	fieldWatchKey   = sources.Field[string]{Name: "watchKey", Required: true}
	fieldValue      = sources.Field[float64]{Name: "value", Required: true, Parse: sources.Number}
	fieldActivation = sources.Field[float64]{Name: "activationValue", Parse: sources.Number}
	fieldProgress   = sources.Field[int64]{Name: "watchProgressNotifyInterval", Default: DefaultWatchProgressNotifyInterval, Parse: sources.PositiveInt}
	fieldUsername   = sources.Field[string]{Name: "username", From: authEnv}
	fieldPassword   = sources.Field[string]{Name: "password", From: authEnv}
	fieldTLS        = sources.Field[string]{Name: "tls", From: sources.AuthOnly, Default: "disable", Parse: sources.OneOf("enable", "disable")}
	fieldCert       = sources.Field[string]{Name: "cert", From: sources.AuthOnly}
	fieldKey        = sources.Field[string]{Name: "key", From: sources.AuthOnly}
	fieldKeyPass    = sources.Field[string]{Name: "keyPassword", From: sources.AuthOnly}
	fieldCA         = sources.Field[string]{Name: "ca", From: sources.AuthOnly}
)

// Config is the parsed, validated metadata and authentication of one etcd
// trigger. Its credentials are unexported and never printed.
type Config struct {
	// Endpoints are the members' client URLs, as given (host:port or
	// http(s)://host:port).
	Endpoints []string
	// WatchKey is the key whose value (a number) is the metric.
	WatchKey string
	// Value is the HPA target; ActivationValue the activation threshold.
	Value, ActivationValue float64
	// WatchProgressNotifyInterval (seconds): a watch that hears nothing,
	// not even a progress notification, for twice this long is made again.
	WatchProgressNotifyInterval int64
	// TLS is true with tls=enable.
	TLS bool

	username, password string
	tls                clienttls.Params
}

// Spec is KEDA's metric: "s<index>-etcd-<watchKey>".
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, "etcd-"+c.WatchKey),
		Target:     c.Value,
		Activation: c.ActivationValue,
	}
}

// ParseConfig validates the metadata and authentication of t after
// applying defaults. Errors name the field and, when it came from the
// trigger's metadata, the value; never a secret. It has no side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	eps, err := fieldEndpoints.Read(l)
	if err != nil {
		return Config{}, err
	}
	for _, ep := range strings.Split(eps, ",") {
		ep = strings.TrimSpace(ep)
		if err := checkEndpoint(ep); err != nil {
			return Config{}, l.InvalidValue("endpoints", ep, err.Error())
		}
		c.Endpoints = append(c.Endpoints, ep)
	}
	fieldWatchKey.ReadInto(l, &c.WatchKey)
	fieldValue.ReadInto(l, &c.Value)
	fieldActivation.ReadInto(l, &c.ActivationValue)
	fieldProgress.ReadInto(l, &c.WatchProgressNotifyInterval)
	fieldUsername.ReadInto(l, &c.username)
	fieldPassword.ReadInto(l, &c.password)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	switch {
	case c.username != "" && c.password == "":
		return Config{}, l.Errorf("username: must be given with password")
	case c.password != "" && c.username == "":
		return Config{}, l.Errorf("password: must be given with username")
	}
	mode, err := fieldTLS.Read(l)
	if err != nil {
		return Config{}, err
	}
	c.TLS = mode == "enable"
	for _, f := range []struct {
		field sources.Field[string]
		dst   *string
	}{{fieldCert, &c.tls.Cert}, {fieldKey, &c.tls.Key}, {fieldKeyPass, &c.tls.KeyPassword}, {fieldCA, &c.tls.CA}} {
		if *f.dst, err = f.field.Read(l); err != nil {
			return Config{}, err
		}
	}
	if c.TLS {
		switch {
		case c.tls.Cert == "" && c.tls.Key == "" && c.tls.CA == "":
			return Config{}, l.Errorf("tls: enable needs ca, or cert and key, in the TriggerAuthentication")
		case (c.tls.Cert == "") != (c.tls.Key == ""):
			return Config{}, l.Errorf("cert and key: both must be given")
		}
		if _, err := clienttls.Config(Type, c.tls); err != nil {
			return Config{}, err
		}
	}
	return c, nil
}

// checkEndpoint accepts host:port and http(s)://host:port.
func checkEndpoint(ep string) error {
	hostport := ep
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil {
			return errors.New("must be host:port or http(s)://host:port, comma separated")
		}
		hostport = u.Host
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		return errors.New("must be host:port or http(s)://host:port, comma separated")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return errors.New("port must be 1–65535")
	}
	return nil
}

// id identifies the endpoint: the members, the credential (hashed by
// hash) and the TLS parameters (hashed).
func (c Config) id(hash func(string) string) string {
	return fmt.Sprintf("etcd://%s tls=%t auth=%s", strings.Join(c.Endpoints, ","), c.TLS,
		hash(c.username+"\x00"+c.password+"\x00"+c.tls.CA+"\x00"+c.tls.Cert+"\x00"+c.tls.Key+"\x00"+c.tls.KeyPassword))
}
