// Package companiontest holds what the tests and the benchmark of
// companion mode share: a throwaway certificate authority for mutual TLS
// on loopback, and a client dialled the way KEDA's operator dials.
package companiontest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/pushscale/pushscale/api/externalscaler"
)

// CA is a certificate authority living for one test.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// PEM is the CA certificate, PEM-encoded.
	PEM []byte
}

var serials atomic.Int64

// NewCA makes a CA valid for a day.
func NewCA() (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serials.Add(1)), Subject: pkix.Name{CommonName: "companiontest CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{cert: cert, key: key, PEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Leaf is a certificate the CA signed, for 127.0.0.1 and localhost,
// usable by a server and a client.
type Leaf struct {
	TLS             tls.Certificate
	CertPEM, KeyPEM []byte
}

// Issue signs a leaf named cn.
func (ca *CA) Issue(cn string) (*Leaf, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serials.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	l := &Leaf{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	l.TLS, err = tls.X509KeyPair(l.CertPEM, l.KeyPEM)
	return l, err
}

// Pool is a pool holding the CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// WriteFile writes data to name in dir and returns its path.
func WriteFile(dir, name string, data []byte) (string, error) {
	p := filepath.Join(dir, name)
	return p, os.WriteFile(p, data, 0o600)
}

// ServingFiles issues a serving certificate and writes it, its key and
// the CA into dir: the files of --metrics-api-cert-file,
// --metrics-api-key-file and --external-scaler-client-ca-file (one CA
// signs the server's and the callers' certificates).
func (ca *CA) ServingFiles(dir string) (certFile, keyFile, caFile string, err error) {
	serving, err := ca.Issue("pushscale")
	if err != nil {
		return "", "", "", err
	}
	for _, f := range []struct {
		path *string
		name string
		data []byte
	}{{&certFile, "tls.crt", serving.CertPEM}, {&keyFile, "tls.key", serving.KeyPEM}, {&caFile, "ca.crt", ca.PEM}} {
		if *f.path, err = WriteFile(dir, f.name, f.data); err != nil {
			return "", "", "", err
		}
	}
	return certFile, keyFile, caFile, nil
}

// Dial connects to a pushscale external scaler at addr as KEDA's operator
// does with caCert and tlsClientCert: the server verified against
// serverCA, client presenting client (nil: no client certificate).
func Dial(addr string, serverCA *CA, client *Leaf) (pb.ExternalScalerClient, *grpc.ClientConn, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: serverCA.Pool()}
	if client != nil {
		cfg.Certificates = []tls.Certificate{client.TLS}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		return nil, nil, fmt.Errorf("companiontest: dial %s: %w", addr, err)
	}
	return pb.NewExternalScalerClient(conn), conn, nil
}
