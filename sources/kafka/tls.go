package kafka

import (
	"crypto/tls"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/pushscale/pushscale/sources/clienttls"
)

// tlsConfig is the client TLS configuration of KEDA's kafka scaler (see
// clienttls); nil without tls: enable.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	f := c.tls
	return clienttls.Config("kafka", clienttls.Params{CA: f.ca, Cert: f.cert, Key: f.key, KeyPassword: f.keyPassword, Unsafe: c.UnsafeSSL})
}

// saslMechanism is c's SASL mechanism; nil for none.
func (c Config) saslMechanism() sasl.Mechanism {
	switch c.SASL {
	case SASLPlaintext:
		return plain.Auth{User: c.Username, Pass: c.password}.AsMechanism()
	case SASLScramSHA256:
		return scram.Auth{User: c.Username, Pass: c.password}.AsSha256Mechanism()
	case SASLScramSHA512:
		return scram.Auth{User: c.Username, Pass: c.password}.AsSha512Mechanism()
	}
	return nil
}

// connOpts are the client options of c's connection: brokers, TLS, SASL.
func (c Config) connOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.BootstrapServers...)}
	t, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	if t != nil {
		opts = append(opts, kgo.DialTLSConfig(t))
	}
	if m := c.saslMechanism(); m != nil {
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}
