package controlplane

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the set of credentials generated for one run. Files live in dir.
type pki struct {
	dir string

	serverCA       []byte // PEM of the CA that signed the apiserver's serving cert
	serverCert     string // path
	serverKey      string
	clientCA       string // path of --client-ca-file
	frontProxyCA   string
	proxyClientCrt string
	proxyClientKey string
	saKey          string // service account private key (signing and verifying)
	saPub          string
	tokenFile      string
	adminToken     string
}

type keyPair struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(dir string) (*pki, error) {
	p := &pki{dir: dir}
	if err := p.generate(); err != nil {
		return nil, fmt.Errorf("controlplane: generate certificates: %w", err)
	}
	return p, nil
}

func (p *pki) generate() error {
	serverCA, err := newCA("pushscale-e2e-server-ca")
	if err != nil {
		return err
	}
	serving, err := serverCA.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return err
	}
	clientCA, err := newCA("pushscale-e2e-client-ca")
	if err != nil {
		return err
	}
	frontCA, err := newCA("pushscale-e2e-front-proxy-ca")
	if err != nil {
		return err
	}
	proxyClient, err := frontCA.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "front-proxy-client"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return err
	}
	p.serverCA = certPEM(serverCA.cert)
	p.serverCert, p.serverKey = p.path("apiserver.crt"), p.path("apiserver.key")
	p.clientCA = p.path("client-ca.crt")
	p.frontProxyCA = p.path("front-proxy-ca.crt")
	p.proxyClientCrt, p.proxyClientKey = p.path("front-proxy-client.crt"), p.path("front-proxy-client.key")
	p.saKey, p.saPub = p.path("sa.key"), p.path("sa.pub")
	p.tokenFile = p.path("tokens.csv")
	p.adminToken, err = randomToken()
	if err != nil {
		return err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saPub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		p.path("server-ca.crt"): p.serverCA,
		p.serverCert:            append(certPEM(serving.cert), p.serverCA...),
		p.serverKey:             keyPEM(serving.key),
		p.clientCA:              certPEM(clientCA.cert),
		p.frontProxyCA:          certPEM(frontCA.cert),
		p.proxyClientCrt:        certPEM(proxyClient.cert),
		p.proxyClientKey:        keyPEM(proxyClient.key),
		p.saKey:                 pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		p.saPub:                 pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		p.tokenFile:             []byte(p.adminToken + ",admin,admin,system:masters\n"),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func (p *pki) path(name string) string { return filepath.Join(p.dir, name) }

func newCA(cn string) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

// issue signs tmpl (subject, names and usages filled in by the caller).
func (ca *keyPair) issue(tmpl *x509.Certificate) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(10 * 365 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, key: key}, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(k *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
