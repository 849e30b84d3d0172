// Package clienttlstest makes TLS material for tests: a CA with a server
// certificate for 127.0.0.1 and a client certificate, and the client key
// encrypted the ways a TriggerAuthentication may hold it.
package clienttlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// PKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM.
type PKI struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	ClientKeyDER                                     []byte // PKCS#8
}

// NewPKI makes a PKI valid for an hour around now.
func NewPKI(t testing.TB) PKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, usage x509.ExtKeyUsage) (string, string, []byte) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "leaf"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		return PEM("CERTIFICATE", der), PEM("PRIVATE KEY", keyDER), keyDER
	}
	p := PKI{CA: PEM("CERTIFICATE", caDER)}
	p.ServerCert, p.ServerKey, _ = leaf(2, x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey, p.ClientKeyDER = leaf(3, x509.ExtKeyUsageClientAuth)
	return p
}

// PEM encodes der as one PEM block of type typ.
func PEM(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// LegacyEncrypted is key in "Proc-Type: 4,ENCRYPTED" PEM.
func LegacyEncrypted(t testing.TB, der []byte, password string) string {
	t.Helper()
	block, err := x509.EncryptPEMBlock(rand.Reader, "PRIVATE KEY", der, []byte(password), x509.PEMCipherAES256) //nolint:staticcheck // testing the legacy format
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

// OpenSSLPKCS8 encrypts key as openssl does by default (PBES2, PBKDF2,
// AES-256-CBC), if openssl is installed.
func OpenSSLPKCS8(t testing.TB, key, password string) (string, bool) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Log("openssl not installed: PKCS#8 encryption not tested")
		return "", false
	}
	cmd := exec.Command("openssl", "pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:"+password)
	cmd.Stdin = strings.NewReader(key)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openssl pkcs8: %v", err)
	}
	return string(out), true
}

// PKCS8WithIterations is an encrypted PKCS#8 key (PBES2, PBKDF2 with
// HMAC-SHA256, AES-256-CBC) whose parameters ask for n iterations. Its
// ciphertext is junk: no password decrypts it.
func PKCS8WithIterations(t testing.TB, n int) string {
	t.Helper()
	var (
		oidPBES2      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
		oidPBKDF2     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
		oidHMACSHA256 = asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}
		oidAES256CBC  = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	)
	salt, iv := make([]byte, 16), make([]byte, 16)
	_, _ = rand.Read(salt)
	_, _ = rand.Read(iv)
	kdf, err := asn1.Marshal(struct {
		Salt       []byte
		Iterations int
		PRF        pkix.AlgorithmIdentifier
	}{salt, n, pkix.AlgorithmIdentifier{Algorithm: oidHMACSHA256, Parameters: asn1.NullRawValue}})
	if err != nil {
		t.Fatal(err)
	}
	ivDER, _ := asn1.Marshal(iv)
	params, err := asn1.Marshal(struct{ KDF, Encryption pkix.AlgorithmIdentifier }{
		pkix.AlgorithmIdentifier{Algorithm: oidPBKDF2, Parameters: asn1.RawValue{FullBytes: kdf}},
		pkix.AlgorithmIdentifier{Algorithm: oidAES256CBC, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		t.Fatal(err)
	}
	der, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		Data      []byte
	}{pkix.AlgorithmIdentifier{Algorithm: oidPBES2, Parameters: asn1.RawValue{FullBytes: params}}, make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	return PEM("ENCRYPTED PRIVATE KEY", der)
}
