package external

import (
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls"
)

// The trigger types this package serves.
const (
	// Type is KEDA's polled external scaler.
	Type = "external"
	// TypePush is KEDA's external-push scaler: Type plus StreamIsActive.
	TypePush = "external-push"
)

// The fields of an external or external-push trigger, as KEDA's
// external_scaler.go reads them: the address and TLS switches from the
// metadata only, the TLS material from the TriggerAuthentication only.
var (
	fieldAddress   = sources.Field[string]{Name: "scalerAddress", Required: true, Target: true}
	fieldEnableTLS = sources.Field[bool]{Name: "enableTLS", Parse: sources.Bool}
	fieldUnsafeSSL = sources.Field[bool]{Name: "unsafeSsl", Parse: sources.Bool}
	fieldCACert    = sources.Field[string]{Name: "caCert", From: sources.AuthOnly}
	fieldCert      = sources.Field[string]{Name: "tlsClientCert", From: sources.AuthOnly}
	fieldKey       = sources.Field[string]{Name: "tlsClientKey", From: sources.AuthOnly}
)

// Config is the parsed, validated metadata and authentication of one
// external or external-push trigger. Its TLS material and the metadata it
// forwards (which may hold values resolved from the environment) are
// unexported and never printed.
type Config struct {
	// Type is Type or TypePush.
	Type string
	// ScalerAddress is scalerAddress, host:port.
	ScalerAddress string
	// EnableTLS and UnsafeSSL are enableTLS and unsafeSsl.
	EnableTLS, UnsafeSSL bool
	// Name and Namespace are the owner's, sent in every ScaledObjectRef.
	Name, Namespace string

	ca, cert, key string
	// metadata is scalerMetadata: the trigger's whole metadata with every
	// *FromEnv key's value replaced by the variable it names (KEDA's
	// rule: a key whose variable is unset or empty is left out).
	metadata map[string]string
}

// String describes c without its TLS material or forwarded metadata.
func (c Config) String() string {
	return fmt.Sprintf("external.Config{Type:%q ScalerAddress:%q EnableTLS:%t UnsafeSSL:%t Name:%q Namespace:%q TLS:%t ClientCert:%t Metadata:%d keys}",
		c.Type, c.ScalerAddress, c.EnableTLS, c.UnsafeSSL, c.Name, c.Namespace, c.TLS(), c.cert != "", len(c.metadata))
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// TLS reports whether the connection uses TLS: enableTLS, or any TLS
// material given (KEDA's rule).
func (c Config) TLS() bool { return c.EnableTLS || c.ca != "" || c.cert != "" }

// Push reports whether the trigger streams its activity (external-push).
func (c Config) Push() bool { return c.Type == TypePush }

// ScalerMetadata returns a copy of the metadata sent to the scaler.
func (c Config) ScalerMetadata() map[string]string { return maps.Clone(c.metadata) }

// ParseConfig validates the metadata and authentication of t. Errors name
// the field and, when it came from the trigger's metadata, the value; never
// TLS material or a resolved variable. It has no side effects and does no
// I/O (the metric spec is the scaler's to give: see Source.Parse).
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(t.Type, t)
	c := Config{Type: t.Type, Name: t.Key.Name, Namespace: t.Key.Namespace}
	if c.Type != Type && c.Type != TypePush {
		c.Type = Type
	}
	var err error
	if c.ScalerAddress, err = fieldAddress.Read(l); err != nil {
		return Config{}, err
	}
	if host, port, err := net.SplitHostPort(c.ScalerAddress); err != nil || host == "" || !validPort(port) || strings.ContainsAny(host, " /?#@") {
		return Config{}, l.Invalid(fieldAddress.Name, "must be host:port")
	}
	fieldEnableTLS.ReadInto(l, &c.EnableTLS)
	fieldUnsafeSSL.ReadInto(l, &c.UnsafeSSL)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	c.ca, _ = fieldCACert.Read(l)
	c.cert, _ = fieldCert.Read(l)
	c.key, _ = fieldKey.Read(l)
	if err := c.checkTLS(l); err != nil {
		return Config{}, err
	}
	c.metadata = make(map[string]string, len(t.Metadata))
	for k, v := range t.Metadata {
		if strings.HasSuffix(k, "FromEnv") {
			if resolved := t.ResolvedEnv[v]; resolved != "" {
				c.metadata[k] = resolved
			}
			continue
		}
		c.metadata[k] = v
	}
	return c, nil
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// checkTLS builds the TLS configuration once to check the material, and
// names the parameter at fault (KEDA's names), never its content.
func (c Config) checkTLS(l *sources.Lookup) error {
	if !c.TLS() && c.key == "" {
		return nil
	}
	if c.ca != "" {
		if _, err := clienttls.Config(c.Type, clienttls.Params{CA: c.ca}); err != nil {
			return l.Errorf("caCert (from TriggerAuthentication): no PEM certificate found")
		}
	}
	switch {
	case c.cert != "" && c.key == "":
		return l.Errorf("tlsClientKey (from TriggerAuthentication): required with tlsClientCert")
	case c.cert == "" && c.key != "":
		return l.Errorf("tlsClientCert (from TriggerAuthentication): required with tlsClientKey")
	case c.cert != "":
		if _, err := clienttls.Config(c.Type, clienttls.Params{Cert: c.cert, Key: c.key}); err != nil {
			return l.Errorf("tlsClientCert and tlsClientKey (from TriggerAuthentication): not a matching PEM certificate and private key")
		}
	}
	return nil
}

// tlsConfig is the client TLS configuration of c; nil without TLS.
func (c Config) tlsConfig() (*tls.Config, error) {
	if !c.TLS() {
		return nil, nil
	}
	cfg, err := clienttls.Config(c.Type, clienttls.Params{CA: c.ca, Cert: c.cert, Key: c.key, Unsafe: c.UnsafeSSL})
	if err != nil {
		return nil, fmt.Errorf("%s: TLS material (from TriggerAuthentication): invalid", c.Type)
	}
	return cfg, nil
}

// endpointID names the connection c uses: one per address and TLS
// settings, the material only as a keyed hash.
func (c Config) endpointID(hash func(string) string) string {
	if !c.TLS() {
		return "grpc://" + c.ScalerAddress
	}
	return fmt.Sprintf("grpcs://%s unsafeSsl=%t tls=%s", c.ScalerAddress, c.UnsafeSSL, hash(c.ca+"\x00"+c.cert+"\x00"+c.key))
}

// resourceName names what a trigger reads on its connection: the owner and
// the forwarded metadata (as a keyed hash: it may hold secrets), and
// whether its activity is streamed. Triggers with the same name send the
// same requests, so they share reads and the stream.
func (c Config) resourceName(hash func(string) string) string {
	var b strings.Builder
	b.WriteString(c.Namespace + "\x00" + c.Name)
	for _, k := range slices.Sorted(maps.Keys(c.metadata)) {
		b.WriteString("\x00" + k + "\x00" + c.metadata[k])
	}
	return fmt.Sprintf("%s %s/%s %s", c.Type, c.Namespace, c.Name, hash(b.String()))
}
