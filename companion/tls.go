package companion

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// ServerTLS is the server's TLS configuration: the serving certificate
// from getCert (a certs.Holder's GetCertificate, so rotations apply at the
// next handshake), and a client certificate required and verified
// against the CA bundle in clientCAFile. A caller without one, or with
// one from another CA, fails the handshake: no RPC is reached. The file
// is read now (an unreadable file or one without a certificate is an
// error) and again at a handshake after its modification time changed,
// so a rotated CA applies without a restart.
func ServerTLS(getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error), clientCAFile string) (*tls.Config, error) {
	ca := &caFile{path: clientCAFile}
	if _, err := ca.pool(); err != nil {
		return nil, err
	}
	base := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: getCert,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		NextProtos:     []string{"h2"},
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			pool, err := ca.pool()
			if err != nil {
				return nil, err
			}
			c := base.Clone()
			c.ClientCAs = pool
			return c, nil
		},
	}, nil
}

// caFile is a CA bundle file, parsed again when its modification time
// changes.
type caFile struct {
	path string

	mu      sync.Mutex
	modTime time.Time
	size    int64
	certs   *x509.CertPool
}

func (f *caFile) pool() (*x509.CertPool, error) {
	fi, err := os.Stat(f.path)
	if err != nil {
		return nil, fmt.Errorf("--external-scaler-client-ca-file: %w", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.certs != nil && fi.ModTime().Equal(f.modTime) && fi.Size() == f.size {
		return f.certs, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return nil, fmt.Errorf("--external-scaler-client-ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		if f.certs != nil {
			return f.certs, nil // mid-rewrite: keep the last good bundle
		}
		return nil, fmt.Errorf("--external-scaler-client-ca-file %s: no PEM certificate in it", f.path)
	}
	f.certs, f.modTime, f.size = pool, fi.ModTime(), fi.Size()
	return pool, nil
}
