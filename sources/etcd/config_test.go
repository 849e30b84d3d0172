package etcd

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

const secret = "s3cret-etcd-pass"

func TestParseConfig(t *testing.T) {
	base := map[string]string{"endpoints": "10.0.0.1:2379, https://etcd-1:2379", "watchKey": "/jobs/ready", "value": "5"}
	sourcetest.TestParse(t, ParseConfig, Type, secret, []sourcetest.ParseCase[Config]{
		{Name: "KEDA's defaults and metric name", MD: base, Check: func(t *testing.T, c Config) {
			if c.Value != 5 || c.ActivationValue != 0 || c.WatchProgressNotifyInterval != 600 || c.TLS || len(c.Endpoints) != 2 {
				t.Errorf("config %+v", c)
			}
			if got := c.Spec(1).MetricName; got != "s1-etcd--jobs-ready" {
				t.Errorf("metric name %q", got)
			}
		}},
		{Name: "activation, interval, credentials", MD: sourcetest.With(base, "activationValue", "1.5", "watchProgressNotifyInterval", "30"),
			Auth: map[string]string{"username": "u", "password": secret}, Check: func(t *testing.T, c Config) {
				if c.ActivationValue != 1.5 || c.WatchProgressNotifyInterval != 30 || c.username != "u" || c.password != secret {
					t.Errorf("config %+v", c)
				}
				if id := c.id(func(string) string { return "h" }); strings.Contains(id, secret) {
					t.Errorf("id %q shows the password", id)
				}
			}},
		{Name: "password from passwordFromEnv", MD: sourcetest.With(base, "passwordFromEnv", "P", "usernameFromEnv", "U"),
			Env: map[string]string{"P": secret, "U": "u"}, Check: func(t *testing.T, c Config) {
				if c.password != secret || c.username != "u" {
					t.Errorf("credentials not read from the environment")
				}
			}},
		{Name: "endpoints required", MD: sourcetest.With(base, "endpoints", "-"), WantErr: "etcd: endpoints: required"},
		{Name: "watchKey required", MD: sourcetest.With(base, "watchKey", "-"), WantErr: "etcd: watchKey: required"},
		{Name: "value required", MD: sourcetest.With(base, "value", "-"), WantErr: "etcd: value: required"},
		{Name: "value not a number", MD: sourcetest.With(base, "value", "x"), WantErr: `etcd: value "x": must be a number`},
		{Name: "bad endpoint", MD: sourcetest.With(base, "endpoints", "etcd:2379,nohost"), WantErr: `etcd: endpoints "nohost": must be host:port`},
		{Name: "bad endpoint scheme", MD: sourcetest.With(base, "endpoints", "ftp://etcd:2379"), WantErr: `etcd: endpoints "ftp://etcd:2379"`},
		{Name: "interval 0", MD: sourcetest.With(base, "watchProgressNotifyInterval", "0"), WantErr: `watchProgressNotifyInterval "0": must be a positive whole number`},
		{Name: "username without password", MD: base, Auth: map[string]string{"username": "u"}, WantErr: "etcd: username: must be given with password"},
		{Name: "password without username", MD: base, Auth: map[string]string{"password": secret}, WantErr: "etcd: password: must be given with username"},
		{Name: "bad tls", MD: base, Auth: map[string]string{"tls": "yes"}, WantErr: "etcd: tls (from TriggerAuthentication): must be one of enable, disable"},
		{Name: "tls without material", MD: base, Auth: map[string]string{"tls": "enable"}, WantErr: "etcd: tls: enable needs ca"},
		{Name: "cert without key", MD: base, Auth: map[string]string{"tls": "enable", "cert": "x"}, WantErr: "etcd: cert and key: both must be given"},
		{Name: "bad ca is not shown", MD: base, Auth: map[string]string{"tls": "enable", "ca": secret}, WantErr: "etcd: ca"},
	})
}
