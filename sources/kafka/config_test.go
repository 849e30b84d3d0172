package kafka

import (
	"slices"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// trig is a kafka trigger at index 1 with md over valid defaults.
func trig(md map[string]string, auth map[string]string) sources.Trigger {
	m := map[string]string{"bootstrapServers": "127.0.0.1:9092", "consumerGroup": "g", "topic": "orders"}
	for k, v := range md {
		if v == "-" {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return sources.Trigger{Key: store.Key{Trigger: 1}, Type: Type, Metadata: m, AuthParams: auth}
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig(trig(nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		BootstrapServers: []string{"127.0.0.1:9092"}, ConsumerGroup: "g", Topic: "orders",
		LagThreshold: 10, OffsetResetPolicy: Latest, FullMetadata: true, SASL: SASLNone,
		servers: `"127.0.0.1:9092"`,
	}
	if !equalConfig(c, want) {
		t.Errorf("ParseConfig = %+v, want %+v", c, want)
	}
	if s := c.Spec(1); s.MetricName != "s1-kafka-orders" || s.Target != 10 || s.Activation != 0 {
		t.Errorf("Spec = %+v", s)
	}
}

func equalConfig(a, b Config) bool {
	return slices.Equal(a.BootstrapServers, b.BootstrapServers) && slices.Equal(a.PartitionLimitation, b.PartitionLimitation) &&
		a.ConsumerGroup == b.ConsumerGroup && a.Topic == b.Topic && a.LagThreshold == b.LagThreshold &&
		a.ActivationLagThreshold == b.ActivationLagThreshold && a.OffsetResetPolicy == b.OffsetResetPolicy &&
		a.AllowIdleConsumers == b.AllowIdleConsumers && a.ExcludePersistentLag == b.ExcludePersistentLag &&
		a.ScaleToZeroOnInvalidOffset == b.ScaleToZeroOnInvalidOffset && a.LimitToPartitionsWithLag == b.LimitToPartitionsWithLag &&
		a.EnsureEvenDistributionOfPartitions == b.EnsureEvenDistributionOfPartitions && a.FullMetadata == b.FullMetadata &&
		a.Version == b.Version && a.TLS == b.TLS && a.UnsafeSSL == b.UnsafeSSL && a.SASL == b.SASL &&
		a.Username == b.Username && a.password == b.password && a.tls == b.tls && a.servers == b.servers
}

func TestSpecMetricNames(t *testing.T) {
	for _, tc := range []struct {
		md   map[string]string
		want string
	}{
		{map[string]string{"topic": "my-topic"}, "s1-kafka-my-topic"},
		{map[string]string{"topic": "-", "consumerGroup": "my-group"}, "s1-kafka-my-group-topics"},
		{map[string]string{"topic": "a.b:c"}, "s1-kafka-a-b-c"},
	} {
		c, err := ParseConfig(trig(tc.md, nil))
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Spec(1).MetricName; got != tc.want {
			t.Errorf("metric name = %q, want %q", got, tc.want)
		}
	}
}

func TestParseConfigFields(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   map[string]string
		auth map[string]string
		env  map[string]string
		want func(c *Config)
	}{
		{"several servers, spaces trimmed", map[string]string{"bootstrapServers": "a:1, b:2"}, nil, nil,
			func(c *Config) { c.BootstrapServers = []string{"a:1", "b:2"}; c.servers = `"a:1,b:2"` }},
		{"servers from the environment, not shown", map[string]string{"bootstrapServers": "-", "bootstrapServersFromEnv": "BS"}, nil, map[string]string{"BS": "x:1"},
			func(c *Config) { c.BootstrapServers = []string{"x:1"}; c.servers = "(from the environment)" }},
		{"thresholds", map[string]string{"lagThreshold": "5", "activationLagThreshold": "3"}, nil, nil,
			func(c *Config) { c.LagThreshold = 5; c.ActivationLagThreshold = 3 }},
		{"earliest", map[string]string{"offsetResetPolicy": "earliest"}, nil, nil, func(c *Config) { c.OffsetResetPolicy = Earliest }},
		{"booleans", map[string]string{"allowIdleConsumers": "true", "excludePersistentLag": "true", "scaleToZeroOnInvalidOffset": "true", "fullMetadata": "false"}, nil, nil,
			func(c *Config) {
				c.AllowIdleConsumers, c.ExcludePersistentLag, c.ScaleToZeroOnInvalidOffset, c.FullMetadata = true, true, true, false
			}},
		{"partitionLimitation ids and ranges", map[string]string{"partitionLimitation": "1, 2,10-12"}, nil, nil,
			func(c *Config) { c.PartitionLimitation = []int32{1, 2, 10, 11, 12} }},
		{"partitionLimitation ignored without topic", map[string]string{"partitionLimitation": "1", "topic": "-"}, nil, nil,
			func(c *Config) { c.Topic = "" }},
		{"partitionLimitation reversed range: none", map[string]string{"partitionLimitation": "5-3"}, nil, nil,
			func(c *Config) { c.PartitionLimitation = []int32{} }},
		{"version", map[string]string{"version": "2.8.0"}, nil, nil, func(c *Config) { c.Version = "2.8.0" }},
		{"old version", map[string]string{"version": "0.10.2.0"}, nil, nil, func(c *Config) { c.Version = "0.10.2.0" }},
		{"sasl and tls from the TriggerAuthentication", nil,
			map[string]string{"sasl": "scram_sha512", "username": "u", "password": "p4ss", "tls": "enable", "ca": "CA"}, nil,
			func(c *Config) {
				c.SASL, c.Username, c.password, c.TLS, c.tls.ca = SASLScramSHA512, "u", "p4ss", true, "CA"
			}},
		{"sasl in metadata", map[string]string{"sasl": "plaintext", "tls": "enable", "unsafeSsl": "true"}, map[string]string{"username": "u", "password": "p4ss"}, nil,
			func(c *Config) {
				c.SASL, c.Username, c.password, c.TLS, c.UnsafeSSL = SASLPlaintext, "u", "p4ss", true, true
			}},
		{"sasl none", map[string]string{"sasl": "none"}, nil, nil, func(c *Config) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := trig(tc.md, tc.auth)
			tr.ResolvedEnv = tc.env
			got, err := ParseConfig(tr)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := ParseConfig(trig(nil, nil))
			tc.want(&want)
			if !equalConfig(got, want) {
				t.Errorf("ParseConfig = %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		md   map[string]string
		auth map[string]string
		want string // the whole error
	}{
		{"no servers", map[string]string{"bootstrapServers": "-"}, nil, "kafka: bootstrapServers: required"},
		{"bad server", map[string]string{"bootstrapServers": "a:1,,b:2"}, nil, `kafka: bootstrapServers "a:1,,b:2": must be a comma-separated list of host:port`},
		{"no group", map[string]string{"consumerGroup": "-"}, nil, "kafka: consumerGroup: required"},
		{"lagThreshold 0", map[string]string{"lagThreshold": "0"}, nil, `kafka: lagThreshold "0": must be a positive whole number`},
		{"lagThreshold negative", map[string]string{"lagThreshold": "-1"}, nil, `kafka: lagThreshold "-1": must be a positive whole number`},
		{"lagThreshold not a number", map[string]string{"lagThreshold": "1.5"}, nil, `kafka: lagThreshold "1.5": must be a positive whole number`},
		{"activation negative", map[string]string{"activationLagThreshold": "-1"}, nil, `kafka: activationLagThreshold "-1": must be a whole number ≥ 0`},
		{"offsetResetPolicy", map[string]string{"offsetResetPolicy": "newest"}, nil, `kafka: offsetResetPolicy "newest": must be one of latest, earliest`},
		{"bool", map[string]string{"allowIdleConsumers": "yes"}, nil, `kafka: allowIdleConsumers "yes": must be true or false`},
		{"partitionLimitation", map[string]string{"partitionLimitation": "1,a"}, nil, `kafka: partitionLimitation "1,a": must be comma-separated partition ids and ranges, e.g. 1,2,10-12`},
		{"partitionLimitation 3 parts", map[string]string{"partitionLimitation": "1-2-3"}, nil, `kafka: partitionLimitation "1-2-3": must be comma-separated partition ids and ranges, e.g. 1,2,10-12`},
		{"idle and withLag", map[string]string{"allowIdleConsumers": "true", "limitToPartitionsWithLag": "true"}, nil, "kafka: allowIdleConsumers and limitToPartitionsWithLag cannot both be true"},
		{"withLag without topic", map[string]string{"limitToPartitionsWithLag": "true", "topic": "-"}, nil, "kafka: limitToPartitionsWithLag: requires topic"},
		{"withLag and even", map[string]string{"limitToPartitionsWithLag": "true", "ensureEvenDistributionOfPartitions": "true"}, nil, "kafka: limitToPartitionsWithLag and ensureEvenDistributionOfPartitions cannot both be true"},
		{"even without topic", map[string]string{"ensureEvenDistributionOfPartitions": "true", "topic": "-"}, nil, "kafka: ensureEvenDistributionOfPartitions: requires topic"},
		{"fullMetadata false without topic", map[string]string{"fullMetadata": "false", "topic": "-"}, nil, "kafka: fullMetadata: false requires topic"},
		{"version", map[string]string{"version": "latest"}, nil, `kafka: version "latest": must be a Kafka version such as 2.8.0 or 0.10.2.0`},
		{"tls", map[string]string{"tls": "on"}, nil, `kafka: tls "on": must be one of enable, disable`},
		{"tls from auth not shown", nil, map[string]string{"tls": "s3cr3t"}, "kafka: tls (from TriggerAuthentication): must be one of enable, disable"},
		{"cert without key", map[string]string{"tls": "enable"}, map[string]string{"cert": "C3RT"}, "kafka: key: required with cert"},
		{"key without cert", map[string]string{"tls": "enable"}, map[string]string{"key": "K3Y!"}, "kafka: cert: required with key"},
		{"sasl unknown", map[string]string{"sasl": "kerberos"}, nil, `kafka: sasl "kerberos": must be one of none, plaintext, scram_sha256, scram_sha512, oauthbearer, gssapi`},
		{"sasl without username", map[string]string{"sasl": "plaintext"}, map[string]string{"password": "p4ss"}, "kafka: username: required with sasl"},
		{"sasl without password", nil, map[string]string{"sasl": "scram_sha256", "username": "u"}, "kafka: password: required with sasl"},
		{"oauthbearer", map[string]string{"sasl": "oauthbearer"}, nil, `kafka: sasl "oauthbearer": not supported by pushscale yet (none, plaintext, scram_sha256 and scram_sha512 are)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(trig(tc.md, tc.auth))
			if err == nil || err.Error() != tc.want {
				t.Errorf("ParseConfig error = %v\nwant %s", err, tc.want)
			}
			for k, v := range tc.auth {
				if k != "sasl" && err != nil && len(v) >= 4 && strings.Contains(err.Error(), v) {
					t.Errorf("error shows auth value %q", v)
				}
			}
		})
	}
}

// The bootstrap servers, group and topic are never read from the
// TriggerAuthentication (KEDA: triggerMetadata;resolvedEnv).
func TestParseConfigIgnoresAuthForServers(t *testing.T) {
	tr := trig(map[string]string{"bootstrapServers": "-"}, map[string]string{"bootstrapServers": "a:1"})
	if _, err := ParseConfig(tr); err == nil {
		t.Error("bootstrapServers taken from the TriggerAuthentication")
	}
}
