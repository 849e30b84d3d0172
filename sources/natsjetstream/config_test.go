package natsjetstream

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nats-io/nkeys"

	"github.com/pushscale/pushscale/sources"
)

func TestParseConfig(t *testing.T) {
	base := map[string]string{"natsServerMonitoringEndpoint": "nats.nats:8222", "account": "$G", "stream": "jobs", "consumer": "workers"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "-" {
				delete(m, kv[i])
			} else {
				m[kv[i]] = kv[i+1]
			}
		}
		return m
	}
	seed, _ := nkeys.CreateUser()
	seedBytes, _ := seed.Seed()
	for _, tc := range []struct {
		name    string
		md      map[string]string
		auth    map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "KEDA's defaults", md: base, check: func(t *testing.T, c Config) {
			if c.LagThreshold != 10 || c.ActivationLagThreshold != 0 || c.UseHTTPS || c.AccountID != "$G" || c.Push() {
				t.Errorf("config %v", c)
			}
			if got := c.Spec(1).MetricName; got != "s1-nats-jetstream-jobs" {
				t.Errorf("metric name %q", got)
			}
		}},
		{name: "endpoint and account from the TriggerAuthentication first", md: base,
			auth: map[string]string{"natsServerMonitoringEndpoint": "other:8222", "account": "ACC"},
			check: func(t *testing.T, c Config) {
				if c.MonitoringEndpoint != "other:8222" || c.Account != "ACC" || c.AccountID != "ACC" {
					t.Errorf("config %v", c)
				}
			}},
		{name: "accountID alone", md: with("account", "-", "accountID", "AID"), check: func(t *testing.T, c Config) {
			if c.AccountID != "AID" || c.Account != "" {
				t.Errorf("config %v", c)
			}
		}},
		{name: "thresholds", md: with("lagThreshold", "3", "activationLagThreshold", "2", "useHttps", "true"), check: func(t *testing.T, c Config) {
			if c.LagThreshold != 3 || c.ActivationLagThreshold != 2 || !c.UseHTTPS {
				t.Errorf("config %v", c)
			}
		}},
		{name: "push with a token", md: with("natsClientURL", "nats://a:4222,nats://b:4222"), auth: map[string]string{"clientToken": "tok-secret"},
			check: func(t *testing.T, c Config) {
				if !c.Push() || c.creds.kind() != "token" {
					t.Errorf("config %v", c)
				}
			}},
		{name: "push with an nkey seed", md: with("natsClientURL", "nats://a:4222"), auth: map[string]string{"clientNkeySeed": string(seedBytes)},
			check: func(t *testing.T, c Config) {
				if c.creds.kind() != "nkey" {
					t.Errorf("config %v", c)
				}
			}},
		{name: "no endpoint", md: with("natsServerMonitoringEndpoint", "-"), wantErr: "nats-jetstream: natsServerMonitoringEndpoint: required"},
		{name: "bad endpoint", md: with("natsServerMonitoringEndpoint", "http://x/y"), wantErr: `nats-jetstream: natsServerMonitoringEndpoint "http://x/y": must be host or host:port`},
		{name: "no account", md: with("account", "-"), wantErr: "nats-jetstream: account: required (account or accountID)"},
		{name: "no stream", md: with("stream", "-"), wantErr: "nats-jetstream: stream: required"},
		{name: "no consumer", md: with("consumer", "-"), wantErr: "nats-jetstream: consumer: required"},
		{name: "bad lagThreshold", md: with("lagThreshold", "0"), wantErr: `nats-jetstream: lagThreshold "0": must be a positive whole number`},
		{name: "bad activation", md: with("activationLagThreshold", "x"), wantErr: `nats-jetstream: activationLagThreshold "x": must be a whole number`},
		{name: "bad useHttps", md: with("useHttps", "yes please"), wantErr: `nats-jetstream: useHttps "yes please": must be true or false`},
		{name: "credentials without a URL", md: base, auth: map[string]string{"clientToken": "tok-secret"},
			wantErr: "nats-jetstream: natsClientURL: required with client credentials (clientToken, clientUser, clientPassword, clientNkeySeed, clientCreds)"},
		{name: "bad URL scheme", md: with("natsClientURL", "http://a:4222"), wantErr: `nats-jetstream: natsClientURL "http://a:4222": scheme must be nats, tls, ws or wss`},
		{name: "credentials in the URL", md: with("natsClientURL", "nats://u:pw-secret@a:4222"),
			wantErr: "nats-jetstream: natsClientURL: must not hold credentials: give them in the TriggerAuthentication (clientUser and clientPassword, clientToken, clientNkeySeed or clientCreds)"},
		{name: "two kinds of credential", md: with("natsClientURL", "nats://a:4222"), auth: map[string]string{"clientToken": "tok-secret", "clientUser": "u", "clientPassword": "pw-secret"},
			wantErr: "nats-jetstream: client credentials: give one of clientToken, clientUser with clientPassword, clientNkeySeed or clientCreds"},
		{name: "user without password", md: with("natsClientURL", "nats://a:4222"), auth: map[string]string{"clientUser": "u"},
			wantErr: "nats-jetstream: clientUser and clientPassword (from TriggerAuthentication): give both or neither"},
		{name: "bad seed", md: with("natsClientURL", "nats://a:4222"), auth: map[string]string{"clientNkeySeed": "SUsecret-not-a-seed"},
			wantErr: "nats-jetstream: clientNkeySeed (from TriggerAuthentication): not an nkey seed"},
		{name: "bad creds", md: with("natsClientURL", "nats://a:4222"), auth: map[string]string{"clientCreds": "secret-garbage"},
			wantErr: "nats-jetstream: clientCreds (from TriggerAuthentication): not a NATS creds file (no user nkey seed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(sources.Trigger{Type: Type, Metadata: tc.md, AuthParams: tc.auth})
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v\nwant    %s", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "secret") {
					t.Errorf("error shows a secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
			for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
				if out := fmt.Sprintf(f, c); strings.Contains(out, "secret") || strings.Contains(out, string(seedBytes)) {
					t.Errorf("%s shows a credential: %s", f, out)
				}
			}
		})
	}
}

func TestSubjectMatches(t *testing.T) {
	for _, tc := range []struct {
		filter, subject string
		want            bool
	}{
		{"jobs", "jobs", true},
		{"jobs", "jobs.a", false},
		{"jobs.*", "jobs.a", true},
		{"jobs.*", "jobs.a.b", false},
		{"jobs.>", "jobs.a.b", true},
		{"jobs.>", "jobs", false},
		{">", "x", true},
		{"*.b", "a.b", true},
		{"*.b", "a.c", false},
		{"", "a", false},
	} {
		if got := subjectMatches(tc.filter, tc.subject); got != tc.want {
			t.Errorf("subjectMatches(%q, %q) = %v, want %v", tc.filter, tc.subject, got, tc.want)
		}
	}
}
