package certs

import (
	"bytes"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Keys of the certificate Secret. tls.crt and tls.key make it a valid
// kubernetes.io/tls Secret; ca.crt is the caBundle (the signing CA first,
// then an earlier CA for as long as certificates it signed may still be
// served); ca.key signs the next serving certificate.
const (
	KeyCert   = "tls.crt"
	KeyKey    = "tls.key"
	KeyCA     = "ca.crt"
	KeyCAKey  = "ca.key"
	secretTLS = "kubernetes.io/tls"
)

// bundle is a parsed, consistent certificate Secret.
type bundle struct {
	certPEM, keyPEM, caPEM, caKeyPEM []byte
	cert                             *x509.Certificate // the serving certificate
	ca                               *x509.Certificate // the CA that signed it
	caKey                            crypto.Signer
}

// parseBundle reads a Secret's data and checks that it holds a serving
// certificate with its key, signed by a CA whose key is there too. Errors
// name what is wrong, never the key material.
func parseBundle(data map[string][]byte) (*bundle, error) {
	b := &bundle{certPEM: data[KeyCert], keyPEM: data[KeyKey], caPEM: data[KeyCA], caKeyPEM: data[KeyCAKey]}
	pair, err := tls.X509KeyPair(b.certPEM, b.keyPEM)
	if err != nil {
		return nil, errors.New("certs: tls.crt and tls.key are not a matching certificate and key")
	}
	if b.cert, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
		return nil, fmt.Errorf("certs: tls.crt: %w", err)
	}
	cas, err := parseCerts(b.caPEM)
	if err != nil || len(cas) == 0 {
		return nil, errors.New("certs: ca.crt holds no certificate")
	}
	b.ca = cas[0]
	block, _ := pem.Decode(b.caKeyPEM)
	if block == nil {
		return nil, errors.New("certs: ca.key is not PEM")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	signer, ok := k.(crypto.Signer)
	if err != nil || !ok {
		return nil, errors.New("certs: ca.key is not a PKCS #8 signing key")
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(b.ca.PublicKey) {
		return nil, errors.New("certs: ca.key does not match the first certificate of ca.crt")
	}
	b.caKey = signer
	if err := b.cert.CheckSignatureFrom(b.ca); err != nil {
		return nil, fmt.Errorf("certs: tls.crt is not signed by ca.crt: %w", err)
	}
	return b, nil
}

func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// renewAt is when the serving certificate is due: one third of lifetime
// before it expires.
func (b *bundle) renewAt(lifetime time.Duration) time.Time {
	return b.cert.NotAfter.Add(-lifetime / 3)
}

// needsRenewal says why b must be replaced at now, "" if it need not:
// its names are not dnsNames, less than a third of lifetime remains, or it
// was issued for a longer lifetime than lifetime (the flag was lowered;
// the margin absorbs clock differences between replicas).
func (b *bundle) needsRenewal(now time.Time, lifetime time.Duration, dnsNames []string) string {
	switch {
	case !sameNames(b.cert.DNSNames, dnsNames):
		return "names changed"
	case !now.Before(b.renewAt(lifetime)):
		return "due"
	case b.cert.NotAfter.Sub(now) > lifetime+lifetime/3:
		return "lifetime lowered"
	case now.Before(b.cert.NotBefore):
		return "not yet valid"
	}
	return ""
}

func sameNames(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(slices.Compact(a), slices.Compact(b))
}

// newBundle issues a serving certificate for dnsNames valid for lifetime.
// It keeps prev's CA while that CA outlives one more serving lifetime;
// otherwise it makes a new CA living caLifetimes lifetimes and keeps prev's
// CA in ca.crt, after the new one, until it expires, so a client holding
// either bundle trusts what any replica serves during the switch.
func newBundle(now time.Time, lifetime time.Duration, dnsNames []string, prev *bundle) (*bundle, error) {
	b := &bundle{}
	if prev != nil && prev.ca.NotAfter.Sub(now) >= lifetime && !now.Before(prev.ca.NotBefore) {
		b.ca, b.caKey, b.caKeyPEM = prev.ca, prev.caKey, prev.caKeyPEM
		b.caPEM = unexpired(prev.caPEM, now)
	} else {
		caPEM, caKeyPEM, err := issueCA(now, caLifetimes*lifetime)
		if err != nil {
			return nil, err
		}
		if b, err = caOnly(caPEM, caKeyPEM); err != nil {
			return nil, err
		}
		if prev != nil {
			b.caPEM = append(b.caPEM, unexpired(prev.caPEM, now)...)
		}
	}
	var err error
	b.certPEM, b.keyPEM, err = issueServing(now, lifetime, dnsNames, b.ca, b.caKey)
	if err != nil {
		return nil, err
	}
	return parseBundle(b.data())
}

// caOnly parses a freshly issued CA into a bundle without a serving pair.
func caOnly(caPEM, caKeyPEM []byte) (*bundle, error) {
	cas, err := parseCerts(caPEM)
	if err != nil || len(cas) != 1 {
		return nil, errors.New("certs: parse the new CA")
	}
	block, _ := pem.Decode(caKeyPEM)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("certs: parse the new CA key")
	}
	return &bundle{caPEM: caPEM, caKeyPEM: caKeyPEM, ca: cas[0], caKey: k.(crypto.Signer)}, nil
}

// unexpired returns the certificates of a PEM bundle still valid at now.
func unexpired(caPEM []byte, now time.Time) []byte {
	var out bytes.Buffer
	rest := caPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return out.Bytes()
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil || !now.Before(c.NotAfter) {
			continue
		}
		_ = pem.Encode(&out, block)
	}
}

// data is the Secret data of b.
func (b *bundle) data() map[string][]byte {
	return map[string][]byte{KeyCert: b.certPEM, KeyKey: b.keyPEM, KeyCA: b.caPEM, KeyCAKey: b.caKeyPEM}
}
