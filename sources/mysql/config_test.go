package mysql

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

const secret = "s3cret-mysql-pass"

func TestParseConfig(t *testing.T) {
	parts := map[string]string{"host": "db.app", "port": "3306", "username": "scaler", "dbName": "jobs",
		"query": "SELECT count(*) FROM jobs", "queryValue": "5"}
	connOnly := map[string]string{"query": "SELECT 1", "queryValue": "2"}
	sourcetest.TestParse(t, ParseConfig, Type, secret, []sourcetest.ParseCase[Config]{
		{Name: "KEDA's defaults and metric name", MD: parts, Auth: map[string]string{"password": secret}, Check: func(t *testing.T, c Config) {
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
		{Name: "parts from metadata before the TriggerAuthentication", MD: parts,
			Auth: map[string]string{"host": "other", "username": "u2", "password": secret},
			Check: func(t *testing.T, c Config) {
				if c.dsn.Addr != "db.app:3306" || c.dsn.User != "scaler" {
					t.Errorf("dsn %s@%s", c.dsn.User, c.dsn.Addr)
				}
			}},
		{Name: "username from the TriggerAuthentication", MD: sourcetest.With(parts, "username", "-"), Auth: map[string]string{"username": "u2"},
			Check: func(t *testing.T, c Config) {
				if c.dsn.User != "u2" {
					t.Errorf("user %q", c.dsn.User)
				}
			}},
		{Name: "connectionString from the TriggerAuthentication; dbName after its last /", MD: connOnly,
			Auth: map[string]string{"connectionString": "u:" + secret + "@tcp(db:3307)/stats"},
			Check: func(t *testing.T, c Config) {
				if c.dsn.Addr != "db:3307" || c.DBName != "stats" || c.Spec(0).MetricName != "s0-mysql-stats" {
					t.Errorf("config %+v", c)
				}
			}},
		{Name: "connectionString from connectionStringFromEnv", MD: sourcetest.With(connOnly, "connectionStringFromEnv", "DSN"),
			Env: map[string]string{"DSN": "u:" + secret + "@tcp(db:3306)/x"}, Check: func(t *testing.T, c Config) {
				if c.DBName != "x" {
					t.Errorf("config %+v", c)
				}
			}},
		{Name: "activation", MD: sourcetest.With(parts, "activationQueryValue", "2.5"), Check: func(t *testing.T, c Config) {
			if c.ActivationQueryValue != 2.5 {
				t.Errorf("config %+v", c)
			}
		}},
		{Name: "query required", MD: sourcetest.With(parts, "query", "-"), WantErr: "mysql: query: required"},
		{Name: "queryValue required", MD: sourcetest.With(parts, "queryValue", "-"), WantErr: "mysql: queryValue: required"},
		{Name: "queryValue not a number", MD: sourcetest.With(parts, "queryValue", "x"), WantErr: `mysql: queryValue "x": must be a number`},
		{Name: "activation not a number", MD: sourcetest.With(parts, "activationQueryValue", "Inf"), WantErr: `activationQueryValue "Inf": must be a number`},
		{Name: "no host", MD: sourcetest.With(parts, "host", "-"), WantErr: "mysql: host: required when connectionString is not given"},
		{Name: "no port", MD: sourcetest.With(parts, "port", "-"), WantErr: "mysql: port: required"},
		{Name: "bad port", MD: sourcetest.With(parts, "port", "0"), WantErr: `mysql: port "0": must be a port number`},
		{Name: "no username", MD: sourcetest.With(parts, "username", "-"), WantErr: "mysql: username: required"},
		{Name: "bad connectionString is not shown", MD: connOnly, Auth: map[string]string{"connectionString": "u:" + secret + "@tcp(db:3306"},
			WantErr: "mysql: connectionString (from TriggerAuthentication): is not a valid MySQL DSN"},
	})
}
