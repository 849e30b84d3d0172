package postgresql

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

const secret = "s3cret-pass word'\\x"

func TestParseConfig(t *testing.T) {
	parts := map[string]string{"host": "db.app", "port": "5432", "userName": "scaler", "dbName": "jobs", "sslmode": "disable",
		"query": "SELECT count(*) FROM jobs", "targetQueryValue": "5"}
	connOnly := map[string]string{"query": "SELECT 1", "targetQueryValue": "2.5"}
	sourcetest.TestParse(t, ParseConfig, Type, secret, []sourcetest.ParseCase[Config]{
		{Name: "KEDA's defaults and metric name", MD: parts, Auth: map[string]string{"password": secret}, Check: func(t *testing.T, c Config) {
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
		{Name: "parts from the TriggerAuthentication before metadata", MD: parts,
			Auth: map[string]string{"host": "other", "port": "6432", "userName": "u", "dbName": "d"},
			Check: func(t *testing.T, c Config) {
				if c.conn.Host != "other" || c.conn.Port != 6432 || c.conn.User != "u" || c.conn.Database != "d" {
					t.Errorf("connection %s %s %s:%d", c.conn.User, c.conn.Database, c.conn.Host, c.conn.Port)
				}
			}},
		{Name: "password from passwordFromEnv", MD: sourcetest.With(parts, "passwordFromEnv", "PGPASS"), Env: map[string]string{"PGPASS": secret},
			Check: func(t *testing.T, c Config) {
				if c.conn.Password != secret {
					t.Errorf("password not read from the environment")
				}
			}},
		{Name: "connection from the TriggerAuthentication", MD: connOnly,
			Auth: map[string]string{"connection": "postgres://scaler:" + "pw-1234@db:5433/app?sslmode=disable"},
			Check: func(t *testing.T, c Config) {
				if c.conn.Port != 5433 || c.conn.Password != "pw-1234" || c.TargetQueryValue != 2.5 {
					t.Errorf("config %+v", c)
				}
			}},
		{Name: "connection from connectionFromEnv", MD: sourcetest.With(connOnly, "connectionFromEnv", "DSN"),
			Env: map[string]string{"DSN": "host=db user=u password=pw-1234 dbname=x"},
			Check: func(t *testing.T, c Config) {
				if c.conn.Host != "db" || c.conn.Database != "x" {
					t.Errorf("config %+v", c)
				}
			}},
		{Name: "connection in metadata is not read (KEDA: authParams or env only)", MD: sourcetest.With(connOnly, "connection", "host=db"),
			WantErr: "postgresql: host: required when connection is not given"},
		{Name: "activation and notifyChannel", MD: sourcetest.With(parts, "activationTargetQueryValue", "1.5", "notifyChannel", "Jobs"),
			Check: func(t *testing.T, c Config) {
				if c.ActivationTargetQueryValue != 1.5 || c.NotifyChannel != "Jobs" {
					t.Errorf("config %+v", c)
				}
			}},
		{Name: "query required", MD: sourcetest.With(parts, "query", "-"), WantErr: "postgresql: query: required"},
		{Name: "targetQueryValue required", MD: sourcetest.With(parts, "targetQueryValue", "-"), WantErr: "postgresql: targetQueryValue: required"},
		{Name: "targetQueryValue 0", MD: sourcetest.With(parts, "targetQueryValue", "0"), WantErr: `postgresql: targetQueryValue "0": must not be 0`},
		{Name: "targetQueryValue not a number", MD: sourcetest.With(parts, "targetQueryValue", "five"), WantErr: `postgresql: targetQueryValue "five": must be a number`},
		{Name: "activation not a number", MD: sourcetest.With(parts, "activationTargetQueryValue", "NaN"), WantErr: `activationTargetQueryValue "NaN": must be a number`},
		{Name: "no host", MD: sourcetest.With(parts, "host", "-"), WantErr: "postgresql: host: required when connection is not given"},
		{Name: "no port", MD: sourcetest.With(parts, "port", "-"), WantErr: "postgresql: port: required when connection is not given"},
		{Name: "no userName", MD: sourcetest.With(parts, "userName", "-"), WantErr: "postgresql: userName: required"},
		{Name: "no dbName", MD: sourcetest.With(parts, "dbName", "-"), WantErr: "postgresql: dbName: required"},
		{Name: "no sslmode", MD: sourcetest.With(parts, "sslmode", "-"), WantErr: "postgresql: sslmode: required"},
		{Name: "bad port", MD: sourcetest.With(parts, "port", "99999"), WantErr: `postgresql: port "99999": must be a port number`},
		{Name: "bad sslmode", MD: sourcetest.With(parts, "sslmode", "maybe"), WantErr: `postgresql: sslmode "maybe": must be one of`},
		{Name: "bad port from the TriggerAuthentication is not shown", MD: parts, Auth: map[string]string{"port": "x" + secret},
			WantErr: "postgresql: port (from TriggerAuthentication): must be a port number"},
		{Name: "bad connection is not shown", MD: connOnly, Auth: map[string]string{"connection": "postgres://u:" + secret + "@db:notaport/x"},
			WantErr: "postgresql: connection (from TriggerAuthentication): is not a valid PostgreSQL connection string or URL"},
		{Name: "channel too long", MD: sourcetest.With(parts, "notifyChannel", strings.Repeat("c", 64)), WantErr: "notifyChannel"},
	})
}

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "": "''", "a b": "'a b'", `it's`: `'it\'s'`, `back\slash`: `'back\\slash'`} {
		if got := quote(in); got != want {
			t.Errorf("quote(%q) = %q, want %q", in, got, want)
		}
	}
}
