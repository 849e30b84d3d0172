package redis

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as PEM.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	clientKeyDER                                     []byte // PKCS#8
}

func newPKI(t *testing.T) pki {
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
		return pemOf("CERTIFICATE", der), pemOf("PRIVATE KEY", keyDER), keyDER
	}
	p := pki{ca: pemOf("CERTIFICATE", caDER)}
	p.serverCert, p.serverKey, _ = leaf(2, x509.ExtKeyUsageServerAuth)
	p.clientCert, p.clientKey, p.clientKeyDER = leaf(3, x509.ExtKeyUsageClientAuth)
	return p
}

func pemOf(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

// startTLSServer runs a redis-server that only speaks TLS on a free
// loopback port, until the test ends. authClients is its
// --tls-auth-clients (yes, no, optional).
func startTLSServer(t *testing.T, p pki, authClients string) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command("redis-server", "--port", "0", "--tls-port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--notify-keyspace-events", "KA",
		"--tls-cert-file", write("server.crt", p.serverCert), "--tls-key-file", write("server.key", p.serverKey),
		"--tls-ca-cert-file", write("ca.crt", p.ca), "--tls-auth-clients", authClients)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	log, _ := os.Create(filepath.Join(dir, "redis.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		_ = log.Close()
	})
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(p.ca))
	pair, _ := tls.X509KeyPair([]byte(p.clientCert), []byte(p.clientKey))
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2,
		TLSConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	t.Cleanup(func() { _ = c.Close() })
	sourcetest.Eventually(t, "the TLS server to answer", func() bool { return c.Ping(t.Context()).Err() == nil })
	return addr
}

func TestTLS(t *testing.T) {
	p := newPKI(t)
	addr := startTLSServer(t, p, "optional")
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, TLSConfig: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // test
	t.Cleanup(func() { _ = rdb.Close() })
	for _, tt := range []struct {
		name string
		md   map[string]string
		auth map[string]string
	}{
		{"enableTLS with the CA", map[string]string{"enableTLS": "true"}, map[string]string{"ca": p.ca}},
		{"tls from TriggerAuthentication, unsafeSsl", map[string]string{"unsafeSsl": "true"}, map[string]string{"tls": "enable"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			list := "tls-" + strings.ReplaceAll(tt.name, " ", "-")
			md := map[string]string{"address": addr, "listName": list}
			for k, v := range tt.md {
				md[k] = v
			}
			e.watch(trig(keyA, TypeRedis, md, tt.auth, idle))
			e.awaitPush(keyA, ReasonSubscribed)
			rdb.RPush(t.Context(), list, "x")
			e.awaitValue(keyA, "1", func(v float64) bool { return v == 1 })
		})
	}
	t.Run("an unknown CA is refused", func(t *testing.T) {
		e := newEnv(t, Options{})
		e.watch(trig(keyA, TypeRedis, map[string]string{"address": addr, "listName": "q", "enableTLS": "true"}, nil, time.Second))
		if msg := e.awaitFailure(keyA); !strings.Contains(msg, "certificate") {
			t.Errorf("failure %q", msg)
		}
	})
}

func TestTLSClientCertificate(t *testing.T) {
	p := newPKI(t)
	addr := startTLSServer(t, p, "yes")
	const keyPassword = "key-pass-3e9a"
	encrypted := legacyEncrypted(t, p.clientKeyDER, keyPassword)
	if k, ok := opensslPKCS8(t, p.clientKey, keyPassword); ok {
		encrypted = k
	}
	e := newEnv(t, Options{})
	auth := map[string]string{"tls": "enable", "ca": p.ca, "cert": p.clientCert, "key": encrypted, "keyPassword": keyPassword}
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": addr, "listName": "q"}, auth, idle))
	e.awaitPush(keyA, ReasonSubscribed)
	e.awaitValue(keyA, "0", func(v float64) bool { return v == 0 })

	// Without the client certificate the server refuses.
	delete(auth, "cert")
	delete(auth, "key")
	delete(auth, "keyPassword")
	e.watch(trig(keyB, TypeRedis, map[string]string{"address": addr, "listName": "q"}, auth, time.Second))
	e.awaitFailure(keyB)
}

func TestDecryptKey(t *testing.T) {
	p := newPKI(t)
	const password = "key-pass-77c1"
	cases := map[string]string{"legacy PEM": legacyEncrypted(t, p.clientKeyDER, password)}
	if k, ok := opensslPKCS8(t, p.clientKey, password); ok {
		cases["PKCS#8 PBES2"] = k
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := decryptKey([]byte(enc), password)
			if err != nil {
				t.Fatalf("decryptKey = %v", err)
			}
			if _, err := tls.X509KeyPair([]byte(p.clientCert), out); err != nil {
				t.Errorf("decrypted key does not match the certificate: %v", err)
			}
			_, err = decryptKey([]byte(enc), "wrong")
			if err == nil || strings.Contains(err.Error(), password) {
				t.Errorf("wrong password: %v", err)
			}
		})
	}
	if out, err := decryptKey([]byte(p.clientKey), password); err != nil || string(out) != p.clientKey {
		t.Errorf("an unencrypted key: %v", err)
	}
	if _, err := decryptKey([]byte("nonsense"), password); err == nil {
		t.Error("not a PEM key: no error")
	}
}

// legacyEncrypted is key in "Proc-Type: 4,ENCRYPTED" PEM.
func legacyEncrypted(t *testing.T, der []byte, password string) string {
	t.Helper()
	block, err := x509.EncryptPEMBlock(rand.Reader, "PRIVATE KEY", der, []byte(password), x509.PEMCipherAES256) //nolint:staticcheck // testing the legacy format
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(block))
}

// opensslPKCS8 encrypts key as openssl does by default (PBES2, PBKDF2,
// AES-256-CBC), if openssl is installed.
func opensslPKCS8(t *testing.T, key, password string) (string, bool) {
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
