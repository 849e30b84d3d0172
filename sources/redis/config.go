package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
)

// The trigger types this package serves.
const (
	TypeRedis                = "redis"
	TypeRedisCluster         = "redis-cluster"
	TypeRedisSentinel        = "redis-sentinel"
	TypeRedisStreams         = "redis-streams"
	TypeRedisClusterStreams  = "redis-cluster-streams"
	TypeRedisSentinelStreams = "redis-sentinel-streams"
)

// Types lists the trigger types this package serves, for registration.
var Types = []string{
	TypeRedis, TypeRedisCluster, TypeRedisSentinel,
	TypeRedisStreams, TypeRedisClusterStreams, TypeRedisSentinelStreams,
}

// Kind is the deployment a trigger connects to.
type Kind int

// The kinds of deployment.
const (
	Standalone Kind = iota
	Cluster
	Sentinel
)

// String names the kind as in the endpoint ids: standalone, cluster or sentinel.
func (k Kind) String() string {
	switch k {
	case Cluster:
		return "cluster"
	case Sentinel:
		return "sentinel"
	default:
		return "standalone"
	}
}

// StreamMode is which value of a stream a streams trigger reads, chosen as
// KEDA chooses it.
type StreamMode int

// The stream modes.
const (
	// StreamLength reads XLEN (no consumerGroup); target streamLength.
	StreamLength StreamMode = iota + 1
	// PendingEntries reads the count of XPENDING (consumerGroup without
	// lagCount); target pendingEntriesCount.
	PendingEntries
	// Lag reads the group's lag from XINFO GROUPS (consumerGroup and a
	// non-zero lagCount; XLEN while the group does not exist); target
	// lagCount.
	Lag
)

// String names the mode by its target key.
func (m StreamMode) String() string {
	switch m {
	case StreamLength:
		return "streamLength"
	case PendingEntries:
		return "pendingEntriesCount"
	case Lag:
		return "lagCount"
	default:
		return "none"
	}
}

// Defaults, as KEDA's.
const (
	DefaultListLength          = 5
	DefaultStreamLength        = 5
	DefaultPendingEntriesCount = 5
)

// Config is the parsed, validated metadata and authentication of one redis
// trigger. Its secrets are unexported and never printed.
type Config struct {
	// Type is the trigger type.
	Type string
	// Kind is standalone, cluster or sentinel.
	Kind Kind
	// Streams is true for the *-streams types.
	Streams bool

	// Addresses are host:port pairs: the server (only the first is used,
	// as KEDA does), the cluster's seed nodes, or the sentinels.
	Addresses []string
	// Username is the ACL user, if any.
	Username string
	// DatabaseIndex is the logical database; always 0 for a cluster (KEDA
	// ignores databaseIndex there).
	DatabaseIndex int
	// EnableTLS is enableTLS, or TriggerAuthentication tls=enable.
	EnableTLS bool
	// UnsafeSSL skips certificate verification.
	UnsafeSSL bool
	// SentinelMaster names the master set watched by the sentinels.
	SentinelMaster string
	// SentinelUsername is the sentinels' ACL user, if any.
	SentinelUsername string

	// ListName, ListLength and ActivationListLength are the list trigger's.
	ListName             string
	ListLength           int64
	ActivationListLength int64

	// Stream, ConsumerGroup and Mode say what a streams trigger reads;
	// Target is the target of that mode (streamLength, pendingEntriesCount
	// or lagCount) and ActivationLagCount its activation threshold.
	Stream             string
	ConsumerGroup      string
	Mode               StreamMode
	Target             int64
	ActivationLagCount int64

	password         string
	sentinelPassword string
	tls              tlsFiles
}

// tlsFiles are the PEM contents given in authentication parameters.
type tlsFiles struct {
	ca, cert, key, keyPassword string
}

// String describes c without its secrets.
func (c Config) String() string {
	what := fmt.Sprintf("ListName:%q ListLength:%d ActivationListLength:%d", c.ListName, c.ListLength, c.ActivationListLength)
	if c.Streams {
		what = fmt.Sprintf("Stream:%q ConsumerGroup:%q Mode:%s Target:%d ActivationLagCount:%d",
			c.Stream, c.ConsumerGroup, c.Mode, c.Target, c.ActivationLagCount)
	}
	return fmt.Sprintf("redis.Config{Type:%s Addresses:%v Username:%q Password:%s DatabaseIndex:%d EnableTLS:%t UnsafeSSL:%t SentinelMaster:%q %s}",
		c.Type, c.Addresses, c.Username, redacted(c.password), c.DatabaseIndex, c.EnableTLS, c.UnsafeSSL, c.SentinelMaster, what)
}

// GoString is String, so that %#v does not print the secrets either.
func (c Config) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return `""`
	}
	return "<redacted>"
}

// Spec returns what the scaler needs to know of a trigger with config c at
// index in its owner's spec.triggers.
func (c Config) Spec(index int) sources.Spec {
	if c.Streams {
		return sources.Spec{
			MetricName: v1alpha1.MetricName(index, "redis-streams-"+c.Stream),
			Target:     float64(c.Target),
			Activation: float64(c.ActivationLagCount),
		}
	}
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, "redis-"+c.ListName),
		Target:     float64(c.ListLength),
		Activation: float64(c.ActivationListLength),
	}
}

// kindOf maps a trigger type to its kind and whether it reads a stream.
func kindOf(typ string) (Kind, bool, bool) {
	switch typ {
	case TypeRedis:
		return Standalone, false, true
	case TypeRedisCluster:
		return Cluster, false, true
	case TypeRedisSentinel:
		return Sentinel, false, true
	case TypeRedisStreams:
		return Standalone, true, true
	case TypeRedisClusterStreams:
		return Cluster, true, true
	case TypeRedisSentinelStreams:
		return Sentinel, true, true
	}
	return 0, false, false
}

// The fields of the redis triggers, as KEDA reads them (keda.md §3).
var (
	fieldAddress          = sources.Field[string]{Name: "address", Aliases: []string{"addresses"}, From: sources.MetaAuthEnv, Target: true}
	fieldHost             = sources.Field[string]{Name: "host", Aliases: []string{"hosts"}, From: sources.MetaEnvAuth, Target: true}
	fieldPort             = sources.Field[string]{Name: "port", Aliases: []string{"ports"}, From: sources.MetaEnvAuth}
	fieldUsername         = sources.Field[string]{Name: "username", From: sources.MetaEnvAuth}
	fieldPassword         = sources.Field[string]{Name: "password", From: sources.MetaEnvAuth}
	fieldDatabaseIndex    = sources.Field[int64]{Name: "databaseIndex", Parse: databaseIndex}
	fieldSentinelMaster   = sources.Field[string]{Name: "sentinelMaster", From: sources.MetaAuthEnv}
	fieldSentinelUsername = sources.Field[string]{Name: "sentinelUsername", From: sources.MetaAuthEnv}
	fieldSentinelPassword = sources.Field[string]{Name: "sentinelPassword", From: sources.MetaAuthEnv}
	fieldEnableTLS        = sources.Field[string]{Name: "enableTLS"}
	fieldTLS              = sources.Field[string]{Name: "tls", From: sources.AuthOnly}
	fieldUnsafeSSL        = sources.Field[bool]{Name: "unsafeSsl", Parse: sources.Bool}
	fieldCert             = sources.Field[string]{Name: "Cert", Aliases: []string{"cert"}, From: sources.AuthOnly}
	fieldKey              = sources.Field[string]{Name: "key", From: sources.AuthOnly}
	fieldKeyPassword      = sources.Field[string]{Name: "keyPassword", From: sources.AuthOnly}
	fieldCA               = sources.Field[string]{Name: "ca", From: sources.AuthOnly}

	fieldListName             = sources.Field[string]{Name: "listName", Required: true}
	fieldListLength           = sources.Field[int64]{Name: "listLength", Default: DefaultListLength, Parse: sources.PositiveInt}
	fieldActivationListLength = sources.Field[int64]{Name: "activationListLength", Parse: sources.Int}

	fieldStream              = sources.Field[string]{Name: "stream", Required: true}
	fieldConsumerGroup       = sources.Field[string]{Name: "consumerGroup"}
	fieldPendingEntriesCount = sources.Field[int64]{Name: "pendingEntriesCount", Default: DefaultPendingEntriesCount, Parse: sources.PositiveInt}
	fieldStreamLength        = sources.Field[int64]{Name: "streamLength", Default: DefaultStreamLength, Parse: sources.PositiveInt}
	fieldLagCount            = sources.Field[int64]{Name: "lagCount", Parse: nonNegativeLag}
	fieldActivationLagCount  = sources.Field[int64]{Name: "activationLagCount", Parse: sources.Int}
)

func databaseIndex(s string) (int64, error) {
	n, err := sources.Int(s)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 1<<20 {
		return 0, errors.New("must be a whole number ≥ 0")
	}
	return n, nil
}

// nonNegativeLag is KEDA's lagCount: 0 (the default) chooses XPENDING.
func nonNegativeLag(s string) (int64, error) {
	n, err := sources.Int(s)
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, errors.New("must be a positive whole number")
	}
	return n, nil
}

// ParseConfig validates the metadata and authentication of t after
// applying defaults, reading every field where KEDA reads it (the fields
// above). Errors name the field and, when it came from the trigger's
// metadata, the value; never a secret. It has no side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	kind, streams, ok := kindOf(t.Type)
	if !ok {
		return Config{}, fmt.Errorf("redis: trigger type %q: %w", t.Type, sources.ErrUnsupported)
	}
	c := Config{Type: t.Type, Kind: kind, Streams: streams}
	l := sources.NewLookup("redis", t)

	if err := c.parseConnection(l); err != nil {
		return Config{}, err
	}
	var err error
	if streams {
		err = c.parseStream(l)
	} else {
		err = c.parseList(l)
	}
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c *Config) parseConnection(l *sources.Lookup) error {
	if err := c.parseAddresses(l); err != nil {
		return err
	}
	c.Username, _ = fieldUsername.Read(l)
	c.password, _ = fieldPassword.Read(l)

	if c.Kind != Cluster {
		n, err := fieldDatabaseIndex.Read(l)
		if err != nil {
			return err
		}
		c.DatabaseIndex = int(n)
	}
	if c.Kind == Sentinel {
		c.SentinelMaster, _ = fieldSentinelMaster.Read(l)
		if c.SentinelMaster == "" {
			return l.Errorf("sentinelMaster: required for %s", c.Type)
		}
		c.SentinelUsername, _ = fieldSentinelUsername.Read(l)
		c.sentinelPassword, _ = fieldSentinelPassword.Read(l)
	}
	return c.parseTLS(l)
}

// parseAddresses reads address/addresses, or host/hosts with port/ports,
// as KEDA does: hosts and ports are paired in order and added to the
// addresses.
func (c *Config) parseAddresses(l *sources.Lookup) error {
	addrs, err := fieldAddress.Read(l)
	if err != nil {
		return err
	}
	list := splitList(addrs)
	hosts, err := fieldHost.Read(l)
	if err != nil {
		return err
	}
	ports, _ := fieldPort.Read(l)
	if hl, pl := splitList(hosts), splitList(ports); len(hl) > 0 && len(pl) > 0 {
		if len(hl) != len(pl) {
			return l.Errorf("hosts and ports: %d hosts but %d ports: give as many of each", len(hl), len(pl))
		}
		for i := range hl {
			list = append(list, net.JoinHostPort(hl[i], pl[i]))
		}
	}
	if len(list) == 0 {
		return l.Errorf("address: required (address or addresses as host:port, comma separated, or host and port)")
	}
	for _, a := range list {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || !validPort(port) {
			field := "address"
			if addrs == "" {
				field = "host and port"
			}
			return l.InvalidValue(field, a, "must be host:port")
		}
	}
	if c.Kind == Standalone {
		list = list[:1] // KEDA connects to the first address only
	}
	c.Addresses = list
	return nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// parseTLS reads enableTLS (metadata) or tls (TriggerAuthentication), which
// KEDA refuses together, unsafeSsl, and the PEM parameters.
func (c *Config) parseTLS(l *sources.Lookup) error {
	meta, _ := fieldEnableTLS.Read(l)
	auth, _ := fieldTLS.Read(l)
	switch {
	case meta != "" && auth != "":
		return l.Errorf("enableTLS and tls: give TLS either in the trigger metadata (enableTLS) or in the TriggerAuthentication (tls), not both")
	case meta != "":
		v, err := sources.Bool(meta)
		if err != nil {
			return l.Invalid("enableTLS", err.Error())
		}
		c.EnableTLS = v
	case auth != "":
		switch auth {
		case "enable":
			c.EnableTLS = true
		case "disable":
		default:
			return l.Errorf("tls (from TriggerAuthentication): must be enable or disable")
		}
	}
	v, err := fieldUnsafeSSL.Read(l)
	if err != nil {
		return err
	}
	c.UnsafeSSL = v
	c.tls.cert, _ = fieldCert.Read(l)
	c.tls.key, _ = fieldKey.Read(l)
	c.tls.keyPassword, _ = fieldKeyPassword.Read(l)
	c.tls.ca, _ = fieldCA.Read(l)
	if c.EnableTLS {
		if _, err := c.tlsConfig(); err != nil {
			return err
		}
	}
	return nil
}

// tlsConfig builds the client TLS configuration, nil when TLS is off.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.EnableTLS {
		return nil, nil
	}
	return clienttls.Config("redis", clienttls.Params{CA: c.tls.ca, Cert: c.tls.cert, Key: c.tls.key, KeyPassword: c.tls.keyPassword, Unsafe: c.UnsafeSSL})
}

func (c *Config) parseList(l *sources.Lookup) error {
	var err error
	if c.ListName, err = fieldListName.Read(l); err != nil {
		return err
	}
	if c.ListLength, err = fieldListLength.Read(l); err != nil {
		return err
	}
	c.ActivationListLength, err = fieldActivationListLength.Read(l)
	return err
}

// parseStream reads a streams trigger and chooses its mode as KEDA does:
// no consumerGroup reads XLEN; a consumerGroup reads XPENDING unless
// lagCount is set and not 0, which reads the group's lag.
func (c *Config) parseStream(l *sources.Lookup) error {
	var err error
	if c.Stream, err = fieldStream.Read(l); err != nil {
		return err
	}
	c.ConsumerGroup, _ = fieldConsumerGroup.Read(l)
	pending, err := fieldPendingEntriesCount.Read(l)
	if err != nil {
		return err
	}
	length, err := fieldStreamLength.Read(l)
	if err != nil {
		return err
	}
	lag, err := fieldLagCount.Read(l)
	if err != nil {
		return err
	}
	if c.ActivationLagCount, err = fieldActivationLagCount.Read(l); err != nil {
		return err
	}
	switch {
	case c.ConsumerGroup == "":
		c.Mode, c.Target = StreamLength, length
	case lag != 0:
		c.Mode, c.Target = Lag, lag
	default:
		c.Mode, c.Target = PendingEntries, pending
	}
	return nil
}

// splitList splits a comma separated list, trimming each element and
// dropping empty ones.
func splitList(s string) []string {
	var out []string
	for _, e := range strings.Split(s, ",") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, e)
		}
	}
	return out
}
