package kafka

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
)

// Type is the trigger type this package serves.
const Type = "kafka"

// Types lists the trigger types this package serves, for registration.
var Types = []string{Type}

// The values of offsetResetPolicy.
const (
	Latest   = "latest"
	Earliest = "earliest"
)

// The SASL mechanisms, as KEDA names them in sasl.
const (
	SASLNone        = "none"
	SASLPlaintext   = "plaintext"
	SASLScramSHA256 = "scram_sha256"
	SASLScramSHA512 = "scram_sha512"
	saslOAuthBearer = "oauthbearer" // accepted by KEDA, refused here (see Config)
	saslGSSAPI      = "gssapi"      // likewise
)

// Config is one kafka trigger's configuration, KEDA's keys with KEDA's
// defaults and rules (kafka_scaler.go). Unexported fields hold secrets.
type Config struct {
	// BootstrapServers are the brokers first contacted (metadata, then
	// the trigger's environment: never the TriggerAuthentication).
	BootstrapServers []string
	// ConsumerGroup is the group whose lag is read.
	ConsumerGroup string
	// Topic is the topic read; empty: every topic the group has committed
	// offsets for, found again at every read.
	Topic string
	// PartitionLimitation restricts the partitions of Topic that count
	// ("1,2,10-12"); nil: all. Ignored without Topic, as KEDA does.
	PartitionLimitation []int32
	// LagThreshold is the HPA target per replica (default 10, > 0).
	LagThreshold int64
	// ActivationLagThreshold: active when the lag (persistent lag
	// included) is above it (default 0).
	ActivationLagThreshold int64
	// OffsetResetPolicy decides the lag of a partition with no committed
	// offset: 1 for latest, its log-end offset for earliest.
	OffsetResetPolicy string
	// AllowIdleConsumers lifts the cap of the lag at partitions ×
	// lagThreshold (one consumer per partition).
	AllowIdleConsumers bool
	// ExcludePersistentLag leaves out of the value the lag of partitions
	// whose committed offset has not moved since the previous read.
	ExcludePersistentLag bool
	// ScaleToZeroOnInvalidOffset makes a partition with no committed
	// offset count 0.
	ScaleToZeroOnInvalidOffset bool
	// LimitToPartitionsWithLag caps at the partitions that have lag
	// instead of all partitions.
	LimitToPartitionsWithLag bool
	// EnsureEvenDistributionOfPartitions rounds the value up to the next
	// replica count that divides the partition count.
	EnsureEvenDistributionOfPartitions bool
	// FullMetadata is accepted as KEDA's (default true); the client here
	// only ever asks for the metadata of the topics it reads.
	FullMetadata bool
	// Version is the Kafka version KEDA's client pins; API versions are
	// negotiated here, so it is only validated.
	Version string

	// TLS is true for tls: enable.
	TLS bool
	// UnsafeSSL skips verifying the brokers' certificates.
	UnsafeSSL bool
	// SASL is the mechanism: none, plaintext, scram_sha256, scram_sha512.
	SASL string
	// Username is the SASL user (from the TriggerAuthentication).
	Username string

	password string
	tls      tlsFiles

	// servers shows BootstrapServers in errors when they came from the
	// trigger's metadata; otherwise it says where they came from.
	servers string
}

// tlsFiles is the PEM material of a TriggerAuthentication.
type tlsFiles struct{ ca, cert, key, keyPassword string }

// metaEnv is KEDA's order for bootstrapServers, consumerGroup and topic:
// metadata, then the scale target's environment, never the
// TriggerAuthentication.
var metaEnv = sources.Order{sources.FromMetadata, sources.FromEnv}

// metaAuth is KEDA's order for tls and sasl.
var metaAuth = sources.Order{sources.FromMetadata, sources.FromAuth}

// The fields, as KEDA declares them.
var (
	fBootstrap = sources.Field[string]{Name: "bootstrapServers", From: metaEnv, Required: true, Target: true}
	fGroup     = sources.Field[string]{Name: "consumerGroup", From: metaEnv, Required: true}
	fTopic     = sources.Field[string]{Name: "topic", From: metaEnv}
	fLimit     = sources.Field[string]{Name: "partitionLimitation"}
	fLag       = sources.Field[int64]{Name: "lagThreshold", Default: 10, Parse: sources.PositiveInt}
	fAct       = sources.Field[int64]{Name: "activationLagThreshold", Default: 0, Parse: sources.NonNegativeInt}
	fReset     = sources.Field[string]{Name: "offsetResetPolicy", Default: Latest, Parse: sources.OneOf(Latest, Earliest)}
	fIdle      = sources.Field[bool]{Name: "allowIdleConsumers", Parse: sources.Bool}
	fPersist   = sources.Field[bool]{Name: "excludePersistentLag", Parse: sources.Bool}
	fZero      = sources.Field[bool]{Name: "scaleToZeroOnInvalidOffset", Parse: sources.Bool}
	fWithLag   = sources.Field[bool]{Name: "limitToPartitionsWithLag", Parse: sources.Bool}
	fEven      = sources.Field[bool]{Name: "ensureEvenDistributionOfPartitions", Parse: sources.Bool}
	fFull      = sources.Field[bool]{Name: "fullMetadata", Default: true, Parse: sources.Bool}
	fVersion   = sources.Field[string]{Name: "version", Parse: parseVersion}
	fTLS       = sources.Field[string]{Name: "tls", From: metaAuth, Default: "disable", Parse: sources.OneOf("enable", "disable")}
	fUnsafe    = sources.Field[bool]{Name: "unsafeSsl", Parse: sources.Bool}
	fCA        = sources.Field[string]{Name: "ca", From: sources.AuthOnly}
	fCert      = sources.Field[string]{Name: "cert", From: sources.AuthOnly}
	fKey       = sources.Field[string]{Name: "key", From: sources.AuthOnly}
	fKeyPass   = sources.Field[string]{Name: "keyPassword", From: sources.AuthOnly}
	fSASL      = sources.Field[string]{Name: "sasl", From: metaAuth, Default: SASLNone,
		Parse: sources.OneOf(SASLNone, SASLPlaintext, SASLScramSHA256, SASLScramSHA512, saslOAuthBearer, saslGSSAPI)}
	fUser = sources.Field[string]{Name: "username", From: sources.AuthOnly}
	fPass = sources.Field[string]{Name: "password", From: sources.AuthOnly}
)

// versionRE is the form of a Kafka version KEDA's client accepts:
// 0.x.y.z before 1.0, x.y.z since.
var versionRE = regexp.MustCompile(`^(0\.\d+\.\d+\.\d+|\d+\.\d+\.\d+)$`)

func parseVersion(s string) (string, error) {
	if !versionRE.MatchString(s) {
		return "", errors.New("must be a Kafka version such as 2.8.0 or 0.10.2.0")
	}
	return s, nil
}

// ParseConfig reads t's metadata and authentication with KEDA's rules. An
// error names the field; it shows the value only when it came from the
// trigger's metadata.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	var err error
	servers, err := fBootstrap.Read(l)
	if err != nil {
		return c, err
	}
	for s := range strings.SplitSeq(servers, ",") {
		s = strings.TrimSpace(s)
		if s == "" || strings.ContainsAny(s, " /") || !strings.Contains(s, ":") {
			return c, l.Invalid("bootstrapServers", "must be a comma-separated list of host:port")
		}
		c.BootstrapServers = append(c.BootstrapServers, s)
	}
	if _, from := l.Get(sources.MetadataOnly, "bootstrapServers"); from {
		c.servers = strconv.Quote(strings.Join(c.BootstrapServers, ","))
	} else {
		c.servers = "(from the environment)"
	}
	if c.ConsumerGroup, err = fGroup.Read(l); err != nil {
		return c, err
	}
	if c.Topic, err = fTopic.Read(l); err != nil {
		return c, err
	}
	limit, err := fLimit.Read(l)
	if err != nil {
		return c, err
	}
	if limit != "" {
		if c.PartitionLimitation, err = parsePartitions(limit); err != nil {
			return c, l.Invalid("partitionLimitation", err.Error())
		}
	}
	if c.Topic == "" {
		c.PartitionLimitation = nil // KEDA ignores it without a topic
	}
	if err := readRules(l, &c); err != nil {
		return c, err
	}
	if err := readAuth(l, &c); err != nil {
		return c, err
	}
	return c, nil
}

// readRules reads the fields that shape the value, and checks KEDA's
// combinations.
func readRules(l *sources.Lookup, c *Config) error {
	var err error
	if c.LagThreshold, err = fLag.Read(l); err != nil {
		return err
	}
	if c.ActivationLagThreshold, err = fAct.Read(l); err != nil {
		return err
	}
	if c.OffsetResetPolicy, err = fReset.Read(l); err != nil {
		return err
	}
	for _, b := range []struct {
		f sources.Field[bool]
		v *bool
	}{
		{fIdle, &c.AllowIdleConsumers}, {fPersist, &c.ExcludePersistentLag},
		{fZero, &c.ScaleToZeroOnInvalidOffset}, {fWithLag, &c.LimitToPartitionsWithLag},
		{fEven, &c.EnsureEvenDistributionOfPartitions}, {fFull, &c.FullMetadata},
	} {
		if *b.v, err = b.f.Read(l); err != nil {
			return err
		}
	}
	if c.Version, err = fVersion.Read(l); err != nil {
		return err
	}
	switch {
	case c.AllowIdleConsumers && c.LimitToPartitionsWithLag:
		return l.Errorf("allowIdleConsumers and limitToPartitionsWithLag cannot both be true")
	case c.Topic == "" && c.LimitToPartitionsWithLag:
		return l.Errorf("limitToPartitionsWithLag: requires topic")
	case c.LimitToPartitionsWithLag && c.EnsureEvenDistributionOfPartitions:
		return l.Errorf("limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot both be true")
	case c.Topic == "" && c.EnsureEvenDistributionOfPartitions:
		return l.Errorf("ensureEvenDistributionOfPartitions: requires topic")
	case c.Topic == "" && !c.FullMetadata:
		return l.Errorf("fullMetadata: false requires topic")
	}
	return nil
}

// readAuth reads TLS and SASL. Values from the TriggerAuthentication are
// never shown.
func readAuth(l *sources.Lookup, c *Config) error {
	tlsMode, err := fTLS.Read(l)
	if err != nil {
		return err
	}
	c.TLS = tlsMode == "enable"
	if c.UnsafeSSL, err = fUnsafe.Read(l); err != nil {
		return err
	}
	for _, f := range []struct {
		f sources.Field[string]
		v *string
	}{{fCA, &c.tls.ca}, {fCert, &c.tls.cert}, {fKey, &c.tls.key}, {fKeyPass, &c.tls.keyPassword}} {
		if *f.v, err = f.f.Read(l); err != nil {
			return err
		}
	}
	if c.TLS {
		switch {
		case c.tls.cert != "" && c.tls.key == "":
			return l.Errorf("key: required with cert")
		case c.tls.key != "" && c.tls.cert == "":
			return l.Errorf("cert: required with key")
		}
	}
	if c.SASL, err = fSASL.Read(l); err != nil {
		return err
	}
	if c.Username, err = fUser.Read(l); err != nil {
		return err
	}
	if c.password, err = fPass.Read(l); err != nil {
		return err
	}
	switch c.SASL {
	case SASLPlaintext, SASLScramSHA256, SASLScramSHA512:
		if c.Username == "" {
			return l.Errorf("username: required with sasl")
		}
		if c.password == "" {
			return l.Errorf("password: required with sasl")
		}
	case saslOAuthBearer, saslGSSAPI:
		return l.Invalid("sasl", "not supported by pushscale yet (none, plaintext, scram_sha256 and scram_sha512 are)")
	}
	return nil
}

// parsePartitions parses KEDA's partitionLimitation: comma-separated ids
// and inclusive ranges ("1,2,10-12").
func parsePartitions(s string) ([]int32, error) {
	out := []int32{} // a reversed range leaves it empty: no partition counts, as in KEDA
	bad := errors.New("must be comma-separated partition ids and ranges, e.g. 1,2,10-12")
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.ParseInt(strings.TrimSpace(lo), 10, 32)
		if err != nil {
			return nil, bad
		}
		b := a
		if isRange {
			if b, err = strconv.ParseInt(strings.TrimSpace(hi), 10, 32); err != nil {
				return nil, bad
			}
		}
		if b-a > 100_000 {
			return nil, errors.New("range too large")
		}
		for i := a; i <= b; i++ {
			out = append(out, int32(i))
		}
	}
	return out, nil
}

// Spec is what the scaler needs: KEDA's metric name kafka-<topic>, or
// kafka-<consumerGroup>-topics for every topic, target lagThreshold and
// activation activationLagThreshold.
func (c Config) Spec(index int) sources.Spec {
	base := "kafka-" + c.Topic
	if c.Topic == "" {
		base = "kafka-" + c.ConsumerGroup + "-topics"
	}
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, base),
		Target:     float64(c.LagThreshold),
		Activation: float64(c.ActivationLagThreshold),
	}
}
