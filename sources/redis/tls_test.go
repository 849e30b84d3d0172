package redis

import (
	"crypto/tls"
	"crypto/x509"
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

	"github.com/pushscale/pushscale/sources/clienttls/clienttlstest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// startTLSServer runs a redis-server that only speaks TLS on a free
// loopback port, until the test ends. authClients is its
// --tls-auth-clients (yes, no, optional).
func startTLSServer(t *testing.T, p clienttlstest.PKI, authClients string) string {
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
		"--tls-cert-file", write("server.crt", p.ServerCert), "--tls-key-file", write("server.key", p.ServerKey),
		"--tls-ca-cert-file", write("ca.crt", p.CA), "--tls-auth-clients", authClients)
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
	pool.AppendCertsFromPEM([]byte(p.CA))
	pair, _ := tls.X509KeyPair([]byte(p.ClientCert), []byte(p.ClientKey))
	c := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2,
		TLSConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}})
	t.Cleanup(func() { _ = c.Close() })
	sourcetest.Eventually(t, "the TLS server to answer", func() bool { return c.Ping(t.Context()).Err() == nil })
	return addr
}

func TestTLS(t *testing.T) {
	p := clienttlstest.NewPKI(t)
	addr := startTLSServer(t, p, "optional")
	rdb := redis.NewClient(&redis.Options{Addr: addr, Protocol: 2, TLSConfig: &tls.Config{InsecureSkipVerify: true}}) //nolint:gosec // test
	t.Cleanup(func() { _ = rdb.Close() })
	for _, tt := range []struct {
		name string
		md   map[string]string
		auth map[string]string
	}{
		{"enableTLS with the CA", map[string]string{"enableTLS": "true"}, map[string]string{"ca": p.CA}},
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
	p := clienttlstest.NewPKI(t)
	addr := startTLSServer(t, p, "yes")
	const keyPassword = "key-pass-3e9a"
	encrypted := clienttlstest.LegacyEncrypted(t, p.ClientKeyDER, keyPassword)
	if k, ok := clienttlstest.OpenSSLPKCS8(t, p.ClientKey, keyPassword); ok {
		encrypted = k
	}
	e := newEnv(t, Options{})
	auth := map[string]string{"tls": "enable", "ca": p.CA, "cert": p.ClientCert, "key": encrypted, "keyPassword": keyPassword}
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
