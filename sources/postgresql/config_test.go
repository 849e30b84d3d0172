package postgresql

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

const secret = "s3cret-pass word'\\x"

func TestParseConfig(t *testing.T) {
	parts := map[string]string{"host": "db.app", "port": "5432", "userName": "scaler", "dbName": "jobs", "sslmode": "disable",
		"query": "SELECT count(*) FROM jobs", "targetQueryValue": "5"}
	connOnly := map[string]string{"query": "SELECT 1", "targetQueryValue": "2.5"}
	for _, tc := range []struct {
		name    string
		md      map[string]string
		auth    map[string]string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "KEDA's defaults and metric name", md: parts, auth: map[string]string{"password": secret}, check: func(t *testing.T, c Config) {
			if c.TargetQueryValue != 5 || c.ActivationTargetQueryValue != 0 || c.NotifyChannel != "" {
				t.Errorf("config %+v", c)
			}
			if got := c.Spec(2).MetricName; got != "s2-postgresql" {
				t.Errorf("metric name %q", got)
			}
			if c.conn.Password != secret || c.conn.User != "scaler" || c.conn.Database != "jobs" || c.conn.Host != "db.app" || c.conn.Port != 5432 {
				t.Errorf("connection %s %s %s:%d", c.conn.User, c.conn.Database, c.conn.Host, c.conn.Port)
			}
			if strings.Contains(c.Server, secret) || c.Server != "db.app:5432/jobs user=scaler" {
				t.Errorf("server %q", c.Server)
			}
		}},
		{name: "parts from the TriggerAuthentication before metadata", md: parts,
			auth: map[string]string{"host": "other", "port": "6432", "userName": "u", "dbName": "d"},
			check: func(t *testing.T, c Config) {
				if c.conn.Host != "other" || c.conn.Port != 6432 || c.conn.User != "u" || c.conn.Database != "d" {
					t.Errorf("connection %s %s %s:%d", c.conn.User, c.conn.Database, c.conn.Host, c.conn.Port)
				}
			}},
		{name: "password from passwordFromEnv", md: sourcetest.With(parts, "passwordFromEnv", "PGPASS"), env: map[string]string{"PGPASS": secret},
			check: func(t *testing.T, c Config) {
				if c.conn.Password != secret {
					t.Errorf("password not read from the environment")
				}
			}},
		{name: "connection from the TriggerAuthentication", md: connOnly,
			auth: map[string]string{"connection": "postgres://scaler:" + "pw-1234@db:5433/app?sslmode=disable"},
			check: func(t *testing.T, c Config) {
				if c.conn.Port != 5433 || c.conn.Password != "pw-1234" || c.TargetQueryValue != 2.5 {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "connection from connectionFromEnv", md: sourcetest.With(connOnly, "connectionFromEnv", "DSN"),
			env: map[string]string{"DSN": "host=db user=u password=pw-1234 dbname=x"},
			check: func(t *testing.T, c Config) {
				if c.conn.Host != "db" || c.conn.Database != "x" {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "connection in metadata is not read (KEDA: authParams or env only)", md: sourcetest.With(connOnly, "connection", "host=db"),
			wantErr: "postgresql: host: required when connection is not given"},
		{name: "activation and notifyChannel", md: sourcetest.With(parts, "activationTargetQueryValue", "1.5", "notifyChannel", "Jobs"),
			check: func(t *testing.T, c Config) {
				if c.ActivationTargetQueryValue != 1.5 || c.NotifyChannel != "Jobs" {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "query required", md: sourcetest.With(parts, "query", "-"), wantErr: "postgresql: query: required"},
		{name: "targetQueryValue required", md: sourcetest.With(parts, "targetQueryValue", "-"), wantErr: "postgresql: targetQueryValue: required"},
		{name: "targetQueryValue 0", md: sourcetest.With(parts, "targetQueryValue", "0"), wantErr: `postgresql: targetQueryValue "0": must not be 0`},
		{name: "targetQueryValue not a number", md: sourcetest.With(parts, "targetQueryValue", "five"), wantErr: `postgresql: targetQueryValue "five": must be a number`},
		{name: "activation not a number", md: sourcetest.With(parts, "activationTargetQueryValue", "NaN"), wantErr: `activationTargetQueryValue "NaN": must be a number`},
		{name: "no host", md: sourcetest.With(parts, "host", "-"), wantErr: "postgresql: host: required when connection is not given"},
		{name: "no port", md: sourcetest.With(parts, "port", "-"), wantErr: "postgresql: port: required when connection is not given"},
		{name: "no userName", md: sourcetest.With(parts, "userName", "-"), wantErr: "postgresql: userName: required"},
		{name: "no dbName", md: sourcetest.With(parts, "dbName", "-"), wantErr: "postgresql: dbName: required"},
		{name: "no sslmode", md: sourcetest.With(parts, "sslmode", "-"), wantErr: "postgresql: sslmode: required"},
		{name: "bad port", md: sourcetest.With(parts, "port", "99999"), wantErr: `postgresql: port "99999": must be a port number`},
		{name: "bad sslmode", md: sourcetest.With(parts, "sslmode", "maybe"), wantErr: `postgresql: sslmode "maybe": must be one of`},
		{name: "bad port from the TriggerAuthentication is not shown", md: parts, auth: map[string]string{"port": "x" + secret},
			wantErr: "postgresql: port (from TriggerAuthentication): must be a port number"},
		{name: "bad connection is not shown", md: connOnly, auth: map[string]string{"connection": "postgres://u:" + secret + "@db:notaport/x"},
			wantErr: "postgresql: connection (from TriggerAuthentication): is not a valid PostgreSQL connection string or URL"},
		{name: "channel too long", md: sourcetest.With(parts, "notifyChannel", strings.Repeat("c", 64)), wantErr: "notifyChannel"},
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

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "": "''", "a b": "'a b'", `it's`: `'it\'s'`, `back\slash`: `'back\\slash'`} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
}
