// Package clienttls builds the client TLS configuration KEDA's scalers take
// from a TriggerAuthentication (ca, cert, key, keyPassword) and the
// trigger's unsafeSsl, for every source that speaks TLS.
//
// The parameters come from a tenant's Secret, so what building them costs
// is bounded: an encrypted key's PBKDF2 iteration count is capped
// (MaxIterations, well under half a second of one core), and a
// configuration is built once per distinct set of parameters (that is,
// once per Secret version) and then served from a bounded cache, so the
// Parse and Watch of every reconcile do not derive the key again.
package clienttls

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync"
)

// Params are a trigger's TLS parameters, PEM as given.
type Params struct {
	CA, Cert, Key, KeyPassword string
	// Unsafe skips verifying the server (unsafeSsl).
	Unsafe bool
}

// Config returns the client TLS configuration of p: the system roots plus
// CA, a client certificate from Cert and Key (Key decrypted with
// KeyPassword when given), and no verification when Unsafe. source starts
// every error ("redis: key (from TriggerAuthentication): ..."); errors name
// the parameter, never its content. Each call returns a configuration of
// its own.
func Config(source string, p Params) (*tls.Config, error) {
	k := cacheKey(source, p)
	if cfg, err, ok := built.get(k); ok {
		if err != nil {
			return nil, err
		}
		return cfg.Clone(), nil
	}
	cfg, err := build(source, p)
	built.put(k, cfg, err)
	if err != nil {
		return nil, err
	}
	return cfg.Clone(), nil
}

func build(source string, p Params) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: p.Unsafe} //nolint:gosec // unsafeSsl asks for it
	if p.CA != "" {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM([]byte(p.CA)) {
			return nil, fmt.Errorf("%s: ca (from TriggerAuthentication): no PEM certificate found", source)
		}
		cfg.RootCAs = pool
	}
	switch {
	case p.Cert != "" && p.Key != "":
		key := []byte(p.Key)
		if p.KeyPassword != "" {
			var err error
			if key, err = DecryptKey(key, p.KeyPassword); err != nil {
				return nil, fmt.Errorf("%s: key (from TriggerAuthentication): cannot decrypt it with keyPassword: %w", source, err)
			}
		}
		pair, err := tls.X509KeyPair([]byte(p.Cert), key)
		if err != nil {
			return nil, fmt.Errorf("%s: cert and key (from TriggerAuthentication): not a matching PEM certificate and private key", source)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case p.Cert != "":
		return nil, fmt.Errorf("%s: key (from TriggerAuthentication): required with cert", source)
	case p.Key != "":
		return nil, fmt.Errorf("%s: cert (from TriggerAuthentication): required with key", source)
	}
	return cfg, nil
}

// cacheSize bounds the configurations kept: far more than the distinct
// TLS credentials of a cluster, and a few MiB at most.
const cacheSize = 1024

// built caches configurations by a hash of their parameters.
var built = &cache{entries: make(map[[sha256.Size]byte]result)}

type result struct {
	cfg *tls.Config
	err error
}

type cache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]result
	order   [][sha256.Size]byte // insertion order, oldest first
}

func (c *cache) get(k [sha256.Size]byte) (*tls.Config, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.entries[k]
	return r.cfg, r.err, ok
}

func (c *cache) put(k [sha256.Size]byte, cfg *tls.Config, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		return
	}
	if len(c.order) >= cacheSize {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.entries[k] = result{cfg: cfg, err: err}
	c.order = append(c.order, k)
}

// cacheKey hashes every parameter, each with its length, so that no two
// parameter sets share a key.
func cacheKey(source string, p Params) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{source, p.CA, p.Cert, p.Key, p.KeyPassword} {
		fmt.Fprintf(h, "%d:", len(s))
		h.Write([]byte(s))
	}
	if p.Unsafe {
		h.Write([]byte{1})
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
