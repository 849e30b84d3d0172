package external

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: TypePush, Metadata: map[string]string{
		"scalerAddress": "scaler.keda:9090", "enableTLS": "false", "unsafeSsl": "false", "queue": "jobs", "tokenFromEnv": "TOKEN",
	}, AuthParams: map[string]string{"caCert": "ca-s3cret-value", "tlsClientCert": "cert-s3cret-value", "tlsClientKey": "key-s3cret-value"},
		ResolvedEnv: map[string]string{"TOKEN": "env-s3cret-value"}}
	// The base's TLS material is junk on purpose: every input with TLS on
	// reaches the checks of caCert and of the client certificate.
	sourcetest.FuzzConfig(f, base, ParseConfig)
}
