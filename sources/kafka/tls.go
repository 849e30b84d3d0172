package kafka

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// tlsConfig is the client TLS configuration of KEDA's kafka scaler: the
// system roots plus ca, a client certificate from cert and key (key
// decrypted with keyPassword), and no verification with unsafeSsl; nil
// without tls: enable. Errors name the parameter, never its content.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.UnsafeSSL} //nolint:gosec // unsafeSsl asks for it
	f := c.tls
	if f.ca != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(f.ca)) {
			return nil, errors.New("kafka: ca (from TriggerAuthentication): no PEM certificate found")
		}
		cfg.RootCAs = pool
	}
	if f.cert == "" {
		return cfg, nil
	}
	key := []byte(f.key)
	if f.keyPassword != "" {
		var err error
		if key, err = decryptKey(key, f.keyPassword); err != nil {
			return nil, err
		}
	}
	pair, err := tls.X509KeyPair([]byte(f.cert), key)
	if err != nil {
		return nil, errors.New("kafka: cert and key (from TriggerAuthentication): not a matching PEM certificate and private key")
	}
	cfg.Certificates = []tls.Certificate{pair}
	return cfg, nil
}

// decryptKey decrypts a legacy encrypted PEM key ("Proc-Type: 4,ENCRYPTED")
// with keyPassword; an unencrypted key is returned as it is. PKCS#8
// encrypted keys are refused with an error saying so.
func decryptKey(keyPEM []byte, password string) ([]byte, error) {
	block, _ := pem.Decode(keyPEM)
	switch {
	case block == nil:
		return nil, errors.New("kafka: key (from TriggerAuthentication): no PEM block found")
	case block.Type == "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("kafka: keyPassword (from TriggerAuthentication): PKCS#8 encrypted keys are not supported yet; give the key unencrypted or in legacy PEM encryption")
	case !x509.IsEncryptedPEMBlock(block): //nolint:staticcheck // legacy keys are still met
		return keyPEM, nil
	}
	der, err := x509.DecryptPEMBlock(block, []byte(password)) //nolint:staticcheck // as above
	if err != nil {
		return nil, errors.New("kafka: keyPassword (from TriggerAuthentication): does not decrypt key")
	}
	return pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der}), nil
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
