package etcd

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

const secret = "s3cret-etcd-pass"

func TestParseConfig(t *testing.T) {
	base := map[string]string{"endpoints": "10.0.0.1:2379, https://etcd-1:2379", "watchKey": "/jobs/ready", "value": "5"}
	for _, tc := range []struct {
		name    string
		md      map[string]string
		auth    map[string]string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "KEDA's defaults and metric name", md: base, check: func(t *testing.T, c Config) {
			if c.Value != 5 || c.ActivationValue != 0 || c.WatchProgressNotifyInterval != 600 || c.TLS || len(c.Endpoints) != 2 {
				t.Errorf("config %+v", c)
			}
			if got := c.Spec(1).MetricName; got != "s1-etcd--jobs-ready" {
				t.Errorf("metric name %q", got)
			}
		}},
		{name: "activation, interval, credentials", md: sourcetest.With(base, "activationValue", "1.5", "watchProgressNotifyInterval", "30"),
			auth: map[string]string{"username": "u", "password": secret}, check: func(t *testing.T, c Config) {
				if c.ActivationValue != 1.5 || c.WatchProgressNotifyInterval != 30 || c.username != "u" || c.password != secret {
					t.Errorf("config %+v", c)
				}
				if id := c.id(func(string) string { return "h" }); strings.Contains(id, secret) {
					t.Errorf("id %q shows the password", id)
				}
			}},
		{name: "password from passwordFromEnv", md: sourcetest.With(base, "passwordFromEnv", "P", "usernameFromEnv", "U"),
			env: map[string]string{"P": secret, "U": "u"}, check: func(t *testing.T, c Config) {
				if c.password != secret || c.username != "u" {
					t.Errorf("credentials not read from the environment")
				}
			}},
		{name: "endpoints required", md: sourcetest.With(base, "endpoints", "-"), wantErr: "etcd: endpoints: required"},
		{name: "watchKey required", md: sourcetest.With(base, "watchKey", "-"), wantErr: "etcd: watchKey: required"},
		{name: "value required", md: sourcetest.With(base, "value", "-"), wantErr: "etcd: value: required"},
		{name: "value not a number", md: sourcetest.With(base, "value", "x"), wantErr: `etcd: value "x": must be a number`},
		{name: "bad endpoint", md: sourcetest.With(base, "endpoints", "etcd:2379,nohost"), wantErr: `etcd: endpoints "nohost": must be host:port`},
		{name: "bad endpoint scheme", md: sourcetest.With(base, "endpoints", "ftp://etcd:2379"), wantErr: `etcd: endpoints "ftp://etcd:2379"`},
		{name: "interval 0", md: sourcetest.With(base, "watchProgressNotifyInterval", "0"), wantErr: `watchProgressNotifyInterval "0": must be a positive whole number`},
		{name: "username without password", md: base, auth: map[string]string{"username": "u"}, wantErr: "etcd: username: must be given with password"},
		{name: "password without username", md: base, auth: map[string]string{"password": secret}, wantErr: "etcd: password: must be given with username"},
		{name: "bad tls", md: base, auth: map[string]string{"tls": "yes"}, wantErr: "etcd: tls (from TriggerAuthentication): must be one of enable, disable"},
		{name: "tls without material", md: base, auth: map[string]string{"tls": "enable"}, wantErr: "etcd: tls: enable needs ca"},
		{name: "cert without key", md: base, auth: map[string]string{"tls": "enable", "cert": "x"}, wantErr: "etcd: cert and key: both must be given"},
		{name: "bad ca is not shown", md: base, auth: map[string]string{"tls": "enable", "ca": secret}, wantErr: "etcd: ca"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(sources.Trigger{Type: Type, Metadata: tc.md, AuthParams: tc.auth, ResolvedEnv: tc.env})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			tc.check(t, c)
		})
	}
}
