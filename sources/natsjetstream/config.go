package natsjetstream

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
)

// Type is the trigger type this package serves.
const Type = "nats-jetstream"

// DefaultLagThreshold is KEDA's lagThreshold default.
const DefaultLagThreshold = 10

// The fields of a nats-jetstream trigger: KEDA's (keda.md §4, KEDA's
// nats_jetstream_scaler.go: the endpoint and account are read from the
// TriggerAuthentication first), then pushscale's natsClientURL and client
// credentials, which turn push on.
var (
	fieldMonitoring = sources.Field[string]{Name: "natsServerMonitoringEndpoint", From: sources.AuthMeta, Required: true, Target: true}
	fieldAccount    = sources.Field[string]{Name: "account", From: sources.AuthMeta}
	fieldAccountID  = sources.Field[string]{Name: "accountID", From: sources.AuthMeta}
	fieldStream     = sources.Field[string]{Name: "stream", Required: true}
	fieldConsumer   = sources.Field[string]{Name: "consumer", Required: true}
	fieldLag        = sources.Field[int64]{Name: "lagThreshold", Default: DefaultLagThreshold, Parse: sources.PositiveInt}
	fieldActivation = sources.Field[int64]{Name: "activationLagThreshold", Parse: sources.Int}
	fieldUseHTTPS   = sources.Field[bool]{Name: "useHttps", Parse: sources.Bool}

	fieldClientURL = sources.Field[string]{Name: "natsClientURL", From: sources.AuthMeta, Target: true}
	fieldToken     = sources.Field[string]{Name: "clientToken", From: sources.AuthOnly}
	fieldUser      = sources.Field[string]{Name: "clientUser", From: sources.AuthOnly}
	fieldPassword  = sources.Field[string]{Name: "clientPassword", From: sources.AuthOnly}
	fieldNkeySeed  = sources.Field[string]{Name: "clientNkeySeed", From: sources.AuthOnly}
	fieldCreds     = sources.Field[string]{Name: "clientCreds", From: sources.AuthOnly}
)

// Config is the parsed, validated metadata and authentication of one
// nats-jetstream trigger. Its credentials are unexported and never printed.
type Config struct {
	// MonitoringEndpoint is natsServerMonitoringEndpoint, host[:port].
	MonitoringEndpoint string
	// Account and AccountID select the account in the monitoring data
	// (either matches, as in KEDA); AccountID defaults to Account.
	Account, AccountID string
	// Stream and Consumer name the durable consumer whose pending messages
	// are counted.
	Stream, Consumer string
	// LagThreshold is the HPA target; ActivationLagThreshold the
	// activation threshold.
	LagThreshold, ActivationLagThreshold int64
	// UseHTTPS reads the monitoring endpoint over https.
	UseHTTPS bool
	// ClientURL is natsClientURL: the servers the gateway connects to as a
	// NATS client (push, and reads through the JetStream API). Empty: the
	// trigger is polled through the monitoring endpoint, as KEDA does.
	ClientURL string

	creds credentials
}

// credentials are the client credentials; at most one kind is set (user
// and password go together).
type credentials struct {
	token, user, password, nkeySeed, creds string
}

func (c credentials) any() bool {
	return c.token != "" || c.user != "" || c.password != "" || c.nkeySeed != "" || c.creds != ""
}

// String describes c without its credentials.
func (c Config) String() string {
	return fmt.Sprintf("natsjetstream.Config{MonitoringEndpoint:%q Account:%q AccountID:%q Stream:%q Consumer:%q LagThreshold:%d ActivationLagThreshold:%d UseHTTPS:%t ClientURL:%q Credentials:%s}",
		c.MonitoringEndpoint, c.Account, c.AccountID, c.Stream, c.Consumer, c.LagThreshold, c.ActivationLagThreshold, c.UseHTTPS, c.ClientURL, c.creds.kind())
}

// GoString is String, so that %#v does not print the credentials either.
func (c Config) GoString() string { return c.String() }

// kind names the kind of credential, never its value.
func (c credentials) kind() string {
	switch {
	case c.token != "":
		return "token"
	case c.user != "":
		return "user"
	case c.nkeySeed != "":
		return "nkey"
	case c.creds != "":
		return "creds"
	}
	return "none"
}

// Push reports whether the trigger has a client URL: its values are pushed.
func (c Config) Push() bool { return c.ClientURL != "" }

// Spec returns what the scaler needs to know of a trigger with config c at
// index in its owner's spec.triggers: KEDA's metric name
// s<index>-nats-jetstream-<stream>.
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, "nats-jetstream-"+c.Stream),
		Target:     float64(c.LagThreshold),
		Activation: float64(c.ActivationLagThreshold),
	}
}

// ParseConfig validates the metadata and authentication of t after
// applying defaults. Errors name the field and, when it came from the
// trigger's metadata, the value; never a secret. It has no side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	var err error
	if c.MonitoringEndpoint, err = fieldMonitoring.Read(l); err != nil {
		return Config{}, err
	}
	if u, err := url.Parse("http://" + c.MonitoringEndpoint); err != nil || u.Host != c.MonitoringEndpoint || u.Hostname() == "" {
		return Config{}, l.Invalid(fieldMonitoring.Name, "must be host or host:port")
	}
	c.Account, _ = fieldAccount.Read(l)
	c.AccountID, _ = fieldAccountID.Read(l)
	if c.Account == "" && c.AccountID == "" {
		return Config{}, l.Errorf("account: required (account or accountID)")
	}
	if c.AccountID == "" {
		c.AccountID = c.Account
	}
	fieldStream.ReadInto(l, &c.Stream)
	fieldConsumer.ReadInto(l, &c.Consumer)
	fieldLag.ReadInto(l, &c.LagThreshold)
	fieldActivation.ReadInto(l, &c.ActivationLagThreshold)
	fieldUseHTTPS.ReadInto(l, &c.UseHTTPS)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	if err := c.parseClient(l); err != nil {
		return Config{}, err
	}
	return c, nil
}

// parseClient reads natsClientURL and the client credentials.
func (c *Config) parseClient(l *sources.Lookup) error {
	var err error
	if c.ClientURL, err = fieldClientURL.Read(l); err != nil {
		return err
	}
	c.creds.token, _ = fieldToken.Read(l)
	c.creds.user, _ = fieldUser.Read(l)
	c.creds.password, _ = fieldPassword.Read(l)
	c.creds.nkeySeed, _ = fieldNkeySeed.Read(l)
	c.creds.creds, _ = fieldCreds.Read(l)
	if c.ClientURL == "" {
		if c.creds.any() {
			return l.Errorf("natsClientURL: required with client credentials (clientToken, clientUser, clientPassword, clientNkeySeed, clientCreds)")
		}
		return nil
	}
	for _, raw := range strings.Split(c.ClientURL, ",") {
		u, err := url.Parse(strings.TrimSpace(raw))
		if err != nil || u.Host == "" {
			return l.InvalidValue(fieldClientURL.Name, raw, "must be a comma separated list of nats://host:port URLs")
		}
		switch u.Scheme {
		case "nats", "tls", "ws", "wss":
		default:
			return l.InvalidValue(fieldClientURL.Name, u.Scheme+"://"+u.Host, "scheme must be nats, tls, ws or wss")
		}
		if u.User != nil {
			return l.Errorf("natsClientURL: must not hold credentials: give them in the TriggerAuthentication (clientUser and clientPassword, clientToken, clientNkeySeed or clientCreds)")
		}
	}
	return c.creds.validate(l)
}

// validate checks that at most one kind of credential is given and that
// keys parse. Its errors never show a credential.
func (c credentials) validate(l *sources.Lookup) error {
	n := 0
	for _, set := range []bool{c.token != "", c.user != "" || c.password != "", c.nkeySeed != "", c.creds != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return l.Errorf("client credentials: give one of clientToken, clientUser with clientPassword, clientNkeySeed or clientCreds")
	}
	if (c.user == "") != (c.password == "") {
		return l.Errorf("clientUser and clientPassword (from TriggerAuthentication): give both or neither")
	}
	if c.nkeySeed != "" {
		if _, err := nkeys.FromSeed([]byte(c.nkeySeed)); err != nil {
			return l.Errorf("clientNkeySeed (from TriggerAuthentication): not an nkey seed")
		}
	}
	if c.creds != "" {
		if _, _, err := c.jwtAndSeed(); err != nil {
			return l.Errorf("clientCreds (from TriggerAuthentication): %v", err)
		}
	}
	return nil
}

// jwtAndSeed splits a creds file's content into its user JWT and seed.
func (c credentials) jwtAndSeed() (string, string, error) {
	token, err := jwt.ParseDecoratedJWT([]byte(c.creds))
	if err != nil || token == "" {
		return "", "", errors.New("not a NATS creds file (no user JWT)")
	}
	kp, err := jwt.ParseDecoratedUserNKey([]byte(c.creds))
	if err != nil {
		return "", "", errors.New("not a NATS creds file (no user nkey seed)")
	}
	seed, err := kp.Seed()
	if err != nil {
		return "", "", errors.New("not a NATS creds file (no user nkey seed)")
	}
	return token, string(seed), nil
}
