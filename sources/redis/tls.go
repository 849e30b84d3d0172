package redis

import (
	"crypto/tls"

	"github.com/pushscale/pushscale/sources"
)

// buildTLS returns the client TLS configuration of KEDA's redis scalers
// (sources.TLSFiles.Config).
func buildTLS(f tlsFiles, unsafe bool) (*tls.Config, error) {
	return sources.TLSFiles{CA: f.ca, Cert: f.cert, Key: f.key, KeyPassword: f.keyPassword}.Config("redis", unsafe)
}

// decryptKey is sources.DecryptKey, for the tests.
var decryptKey = sources.DecryptKey
