package mysql

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

const secret = "s3cret-mysql-pass"

func TestParseConfig(t *testing.T) {
	parts := map[string]string{"host": "db.app", "port": "3306", "username": "scaler", "dbName": "jobs",
		"query": "SELECT count(*) FROM jobs", "queryValue": "5"}
	connOnly := map[string]string{"query": "SELECT 1", "queryValue": "2"}
	for _, tc := range []struct {
		name    string
		md      map[string]string
		auth    map[string]string
		env     map[string]string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{name: "KEDA's defaults and metric name", md: parts, auth: map[string]string{"password": secret}, check: func(t *testing.T, c Config) {
			if c.QueryValue != 5 || c.ActivationQueryValue != 0 || c.DBName != "jobs" {
				t.Errorf("config %+v", c)
			}
			if got := c.Spec(3).MetricName; got != "s3-mysql-jobs" {
				t.Errorf("metric name %q", got)
			}
			if c.dsn.Passwd != secret || c.dsn.User != "scaler" || c.dsn.Addr != "db.app:3306" || strings.Contains(c.Server, secret) {
				t.Errorf("dsn %s@%s server %q", c.dsn.User, c.dsn.Addr, c.Server)
			}
		}},
		{name: "parts from metadata before the TriggerAuthentication", md: parts,
			auth: map[string]string{"host": "other", "username": "u2", "password": secret},
			check: func(t *testing.T, c Config) {
				if c.dsn.Addr != "db.app:3306" || c.dsn.User != "scaler" {
					t.Errorf("dsn %s@%s", c.dsn.User, c.dsn.Addr)
				}
			}},
		{name: "username from the TriggerAuthentication", md: sourcetest.With(parts, "username", "-"), auth: map[string]string{"username": "u2"},
			check: func(t *testing.T, c Config) {
				if c.dsn.User != "u2" {
					t.Errorf("user %q", c.dsn.User)
				}
			}},
		{name: "connectionString from the TriggerAuthentication; dbName after its last /", md: connOnly,
			auth: map[string]string{"connectionString": "u:" + secret + "@tcp(db:3307)/stats"},
			check: func(t *testing.T, c Config) {
				if c.dsn.Addr != "db:3307" || c.DBName != "stats" || c.Spec(0).MetricName != "s0-mysql-stats" {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "connectionString from connectionStringFromEnv", md: sourcetest.With(connOnly, "connectionStringFromEnv", "DSN"),
			env: map[string]string{"DSN": "u:" + secret + "@tcp(db:3306)/x"}, check: func(t *testing.T, c Config) {
				if c.DBName != "x" {
					t.Errorf("config %+v", c)
				}
			}},
		{name: "activation", md: sourcetest.With(parts, "activationQueryValue", "2.5"), check: func(t *testing.T, c Config) {
			if c.ActivationQueryValue != 2.5 {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "query required", md: sourcetest.With(parts, "query", "-"), wantErr: "mysql: query: required"},
		{name: "queryValue required", md: sourcetest.With(parts, "queryValue", "-"), wantErr: "mysql: queryValue: required"},
		{name: "queryValue not a number", md: sourcetest.With(parts, "queryValue", "x"), wantErr: `mysql: queryValue "x": must be a number`},
		{name: "activation not a number", md: sourcetest.With(parts, "activationQueryValue", "Inf"), wantErr: `activationQueryValue "Inf": must be a number`},
		{name: "no host", md: sourcetest.With(parts, "host", "-"), wantErr: "mysql: host: required when connectionString is not given"},
		{name: "no port", md: sourcetest.With(parts, "port", "-"), wantErr: "mysql: port: required"},
		{name: "bad port", md: sourcetest.With(parts, "port", "0"), wantErr: `mysql: port "0": must be a port number`},
		{name: "no username", md: sourcetest.With(parts, "username", "-"), wantErr: "mysql: username: required"},
		{name: "bad connectionString is not shown", md: connOnly, auth: map[string]string{"connectionString": "u:" + secret + "@tcp(db:3306"},
			wantErr: "mysql: connectionString (from TriggerAuthentication): is not a valid MySQL DSN"},
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
