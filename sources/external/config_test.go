package external

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/clienttls/clienttlstest"
	"github.com/pushscale/pushscale/store"
)

func parse(typ string, md, auth, env map[string]string) (Config, error) {
	k := store.Key{Owner: store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "so"}}
	return ParseConfig(sources.Trigger{Key: k, Type: typ, Metadata: md, AuthParams: auth, ResolvedEnv: env})
}

// TestParseConfigKEDARules is KEDA's external scaler metadata, case by case.
func TestParseConfigKEDARules(t *testing.T) {
	pki := clienttlstest.NewPKI(t)
	addr := map[string]string{"scalerAddress": "scaler.keda:9090"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{"scalerAddress": "scaler.keda:9090"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		name     string
		md, auth map[string]string
		env      map[string]string
		wantErr  string // a part of the error; "" for none
		check    func(t *testing.T, c Config)
	}{
		{name: "nothing", md: map[string]string{}, wantErr: "external: scalerAddress: required"},
		{name: "address only", md: addr, check: func(t *testing.T, c Config) {
			if c.TLS() || c.ScalerAddress != "scaler.keda:9090" || c.Name != "so" || c.Namespace != "ns" {
				t.Errorf("config = %v", c)
			}
		}},
		{name: "address without port", md: with("scalerAddress", "scaler.keda"), wantErr: `scalerAddress "scaler.keda": must be host:port`},
		{name: "address with bad port", md: with("scalerAddress", "scaler:http"), wantErr: `scalerAddress "scaler:http": must be host:port`},
		{name: "address as URL", md: with("scalerAddress", "http://scaler:9090"), wantErr: "must be host:port"},
		{name: "address from TriggerAuthentication is not read", md: map[string]string{}, auth: map[string]string{"scalerAddress": "x:1"}, wantErr: "scalerAddress: required"},
		{name: "IPv6 address", md: with("scalerAddress", "[::1]:9090")},
		{name: "enableTLS", md: with("enableTLS", "true"), check: func(t *testing.T, c Config) {
			if !c.TLS() {
				t.Error("TLS off")
			}
		}},
		{name: "enableTLS bad", md: with("enableTLS", "yes"), wantErr: `enableTLS "yes": must be true or false`},
		{name: "unsafeSsl bad", md: with("unsafeSsl", "maybe"), wantErr: `unsafeSsl "maybe": must be true or false`},
		{name: "caCert alone turns TLS on", md: addr, auth: map[string]string{"caCert": pki.CA}, check: func(t *testing.T, c Config) {
			if !c.TLS() || c.EnableTLS {
				t.Errorf("config = %v", c)
			}
		}},
		{name: "caCert in metadata is ignored", md: with("caCert", "junk")},
		{name: "bad caCert", md: addr, auth: map[string]string{"caCert": "not a certificate"}, wantErr: "external: caCert (from TriggerAuthentication): no PEM certificate found"},
		{name: "client certificate", md: addr, auth: map[string]string{"tlsClientCert": pki.ClientCert, "tlsClientKey": pki.ClientKey}, check: func(t *testing.T, c Config) {
			if !c.TLS() {
				t.Error("TLS off")
			}
		}},
		{name: "cert without key", md: addr, auth: map[string]string{"tlsClientCert": pki.ClientCert}, wantErr: "tlsClientKey (from TriggerAuthentication): required with tlsClientCert"},
		{name: "key without cert", md: addr, auth: map[string]string{"tlsClientKey": pki.ClientKey}, wantErr: "tlsClientCert (from TriggerAuthentication): required with tlsClientKey"},
		{name: "mismatched key", md: addr, auth: map[string]string{"tlsClientCert": pki.ClientCert, "tlsClientKey": pki.ServerKey}, wantErr: "tlsClientCert and tlsClientKey (from TriggerAuthentication): not a matching"},
		{name: "metadata forwarded, FromEnv resolved", md: with("queue", "jobs", "hostFromEnv", "HOST", "missingFromEnv", "NOPE"), env: map[string]string{"HOST": "redis:6379"},
			check: func(t *testing.T, c Config) {
				m := c.ScalerMetadata()
				if m["queue"] != "jobs" || m["hostFromEnv"] != "redis:6379" || m["scalerAddress"] != "scaler.keda:9090" {
					t.Errorf("scalerMetadata = %v", m)
				}
				if _, ok := m["missingFromEnv"]; ok {
					t.Errorf("unresolved missingFromEnv forwarded: %v", m)
				}
				if len(m) != 3 {
					t.Errorf("scalerMetadata = %v", m)
				}
			}},
	}
	for _, tc := range cases {
		for _, typ := range []string{Type, TypePush} {
			t.Run(typ+"/"+tc.name, func(t *testing.T) {
				c, err := parse(typ, tc.md, tc.auth, tc.env)
				if tc.wantErr != "" {
					want := strings.Replace(tc.wantErr, "external:", typ+":", 1)
					if err == nil || !strings.Contains(err.Error(), want) {
						t.Fatalf("err = %v, want %q", err, want)
					}
					return
				}
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if c.Push() != (typ == TypePush) {
					t.Errorf("Push() = %t", c.Push())
				}
				if tc.check != nil {
					tc.check(t, c)
				}
			})
		}
	}
}

// TestConfigHidesSecrets: neither printing a config nor an error of bad TLS
// material shows it.
func TestConfigHidesSecrets(t *testing.T) {
	pki := clienttlstest.NewPKI(t)
	c, err := parse(Type, map[string]string{"scalerAddress": "s:1", "tokenFromEnv": "TOKEN"},
		map[string]string{"tlsClientCert": pki.ClientCert, "tlsClientKey": pki.ClientKey}, map[string]string{"TOKEN": "env-s3cret-token"})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), c.GoString()} {
		if strings.Contains(s, "PRIVATE") || strings.Contains(s, "env-s3cret-token") {
			t.Errorf("config prints a secret: %s", s)
		}
	}
	key := pki.ClientKey[40:80]
	_, err = parse(Type, map[string]string{"scalerAddress": "s:1"}, map[string]string{"tlsClientCert": pki.ClientCert, "tlsClientKey": key}, nil)
	if err == nil || strings.Contains(err.Error(), key) {
		t.Errorf("err = %v", err)
	}
}

// TestIDs: connections are shared by address and TLS settings only; reads
// by owner and forwarded metadata; neither name shows TLS material or
// metadata values.
func TestIDs(t *testing.T) {
	pki := clienttlstest.NewPKI(t)
	hash := func(s string) string { return "h" + string(rune('a'+len(s)%26)) }
	mk := func(md, auth map[string]string) Config {
		t.Helper()
		c, err := parse(TypePush, md, auth, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := mk(map[string]string{"scalerAddress": "s:1", "q": "a"}, nil)
	b := mk(map[string]string{"scalerAddress": "s:1", "q": "b"}, nil)
	tlsA := mk(map[string]string{"scalerAddress": "s:1", "q": "a"}, map[string]string{"caCert": pki.CA})
	if a.endpointID(hash) != b.endpointID(hash) {
		t.Errorf("same address, different connections: %q %q", a.endpointID(hash), b.endpointID(hash))
	}
	if a.endpointID(hash) == tlsA.endpointID(hash) {
		t.Errorf("TLS and plain share %q", a.endpointID(hash))
	}
	if strings.Contains(tlsA.endpointID(hash), "CERTIFICATE") {
		t.Errorf("endpoint id shows the CA: %q", tlsA.endpointID(hash))
	}
	src := New(sources.Deps{Scheduler: sources.NewScheduler(sources.SchedulerOptions{Sink: store.New(nil)})}, Options{})
	if src.resourceID(a) == src.resourceID(b) {
		t.Errorf("different metadata, same resource %v", src.resourceID(a))
	}
	if strings.Contains(src.resourceID(a).Name, "q") && strings.Contains(src.resourceID(a).Name, "\x00a") {
		t.Errorf("resource name shows metadata: %q", src.resourceID(a).Name)
	}
}
