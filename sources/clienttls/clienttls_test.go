package clienttls

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources/clienttls/clienttlstest"
)

func TestDecryptKey(t *testing.T) {
	p := clienttlstest.NewPKI(t)
	const password = "key-pass-77c1"
	cases := map[string]string{"legacy PEM": clienttlstest.LegacyEncrypted(t, p.ClientKeyDER, password)}
	if k, ok := clienttlstest.OpenSSLPKCS8(t, p.ClientKey, password); ok {
		cases["PKCS#8 PBES2"] = k
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			out, err := DecryptKey([]byte(enc), password)
			if err != nil {
				t.Fatalf("DecryptKey = %v", err)
			}
			if _, err := tls.X509KeyPair([]byte(p.ClientCert), out); err != nil {
				t.Errorf("decrypted key does not match the certificate: %v", err)
			}
			_, err = DecryptKey([]byte(enc), "wrong")
			if err == nil || strings.Contains(err.Error(), password) {
				t.Errorf("wrong password: %v", err)
			}
		})
	}
	if out, err := DecryptKey([]byte(p.ClientKey), password); err != nil || string(out) != p.ClientKey {
		t.Errorf("an unencrypted key: %v", err)
	}
	if _, err := DecryptKey([]byte("nonsense"), password); err == nil {
		t.Error("not a PEM key: no error")
	}
}

// TestIterationCountBounded: the Secret's author chooses the PBKDF2
// iteration count; a huge one is refused at once instead of holding the
// reconcile worker that parses the trigger (2^31-1 iterations took hours).
func TestIterationCountBounded(t *testing.T) {
	start := time.Now()
	_, err := DecryptKey([]byte(clienttlstest.PKCS8WithIterations(t, 1<<31-1)), "pw")
	if err == nil || !strings.Contains(err.Error(), "iteration count 2147483647") {
		t.Fatalf("DecryptKey = %v, want the iteration count refused", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing took %s", d)
	}
	// At the bound the key is derived (and then fails on the junk data).
	if _, err := DecryptKey([]byte(clienttlstest.PKCS8WithIterations(t, 2048)), "pw"); err == nil || strings.Contains(err.Error(), "iteration") {
		t.Errorf("a usual count: %v, want a decryption failure, not a refusal", err)
	}
}

// TestConfigBuiltOncePerParameters: the same parameters (a Secret version)
// are built once; what is returned is a copy each time; errors are cached
// too and name the parameter with the source.
func TestConfigBuiltOncePerParameters(t *testing.T) {
	p := clienttlstest.NewPKI(t)
	const password = "pw-5d1e"
	params := Params{CA: p.CA, Cert: p.ClientCert, Key: clienttlstest.LegacyEncrypted(t, p.ClientKeyDER, password), KeyPassword: password}
	a, err := Config("redis", params)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Config("redis", params)
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two calls returned the same *tls.Config: a caller's change would reach the other")
	}
	if len(a.Certificates) != 1 || a.RootCAs == nil || a.MinVersion != tls.VersionTLS12 {
		t.Errorf("config %+v", a)
	}
	k := cacheKey("redis", params)
	if _, _, ok := built.get(k); !ok {
		t.Error("not cached")
	}

	bad := Params{Key: clienttlstest.PKCS8WithIterations(t, MaxIterations+1), Cert: p.ClientCert, KeyPassword: "x"}
	for range 3 {
		_, err := Config("kafka", bad)
		if err == nil || !strings.HasPrefix(err.Error(), "kafka: key (from TriggerAuthentication): cannot decrypt it with keyPassword: ") {
			t.Fatalf("Config = %v", err)
		}
	}
	for _, tc := range []struct {
		p    Params
		want string
	}{
		{Params{CA: "nope"}, "x: ca (from TriggerAuthentication): no PEM certificate found"},
		{Params{Cert: p.ClientCert}, "x: key (from TriggerAuthentication): required with cert"},
		{Params{Key: p.ClientKey}, "x: cert (from TriggerAuthentication): required with key"},
		{Params{Cert: p.ServerCert, Key: p.ClientKey}, "x: cert and key (from TriggerAuthentication): not a matching"},
	} {
		if _, err := Config("x", tc.p); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Config = %v, want %q", err, tc.want)
		}
	}
}

// TestCacheBounded: the cache keeps at most cacheSize configurations.
func TestCacheBounded(t *testing.T) {
	for i := range cacheSize + 10 {
		_, _ = Config("x", Params{CA: strings.Repeat("a", i)})
	}
	built.mu.Lock()
	n, m := len(built.entries), len(built.order)
	built.mu.Unlock()
	if n > cacheSize || m > cacheSize {
		t.Errorf("%d entries, %d in order, want at most %d", n, m, cacheSize)
	}
}
