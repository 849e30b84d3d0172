package mysql

import (
	"net"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
)

// Type is the trigger type this package serves.
const Type = "mysql"

// authEnv is KEDA's order for connectionString and password: the
// TriggerAuthentication, then the variable named by <field>FromEnv.
var authEnv = sources.Order{sources.FromAuth, sources.FromEnv}

// The fields of a mysql trigger, as KEDA's mysql_scaler.go reads them.
var (
	fieldConnection = sources.Field[string]{Name: "connectionString", From: authEnv}
	fieldUsername   = sources.Field[string]{Name: "username", From: sources.MetaAuthEnv}
	fieldPassword   = sources.Field[string]{Name: "password", From: authEnv}
	fieldHost       = sources.Field[string]{Name: "host", From: sources.Order{sources.FromMetadata, sources.FromAuth}, Target: true}
	fieldPort       = sources.Field[string]{Name: "port", From: sources.Order{sources.FromMetadata, sources.FromAuth}}
	fieldDBName     = sources.Field[string]{Name: "dbName", From: sources.Order{sources.FromMetadata, sources.FromAuth}}
	fieldQuery      = sources.Field[string]{Name: "query", Required: true}
	fieldTarget     = sources.Field[float64]{Name: "queryValue", Required: true, Parse: sources.Number}
	fieldActivation = sources.Field[float64]{Name: "activationQueryValue", Parse: sources.Number}
)

// Config is the parsed, validated metadata and authentication of one
// mysql trigger. The DSN holds the password: it is unexported and never
// printed.
type Config struct {
	// Query is the scalar query; the first column of its first row is
	// the value.
	Query string
	// QueryValue is the HPA target; ActivationQueryValue the activation
	// threshold.
	QueryValue, ActivationQueryValue float64
	// DBName names the metric, as KEDA does (with connectionString: what
	// follows its last "/").
	DBName string
	// Server names the server, database and user without the password.
	Server string

	dsn *driver.Config
	// secret is the whole DSN, hashed into endpoint ids.
	secret string
}

// Spec is KEDA's metric: "s<index>-mysql-<dbName>".
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, "mysql-"+c.DBName),
		Target:     c.QueryValue,
		Activation: c.ActivationQueryValue,
	}
}

// ParseConfig validates the metadata and authentication of t after
// applying defaults. Errors name the field and, when it came from the
// trigger's metadata, the value; never a secret. It has no side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	var err error
	fieldQuery.ReadInto(l, &c.Query)
	fieldTarget.ReadInto(l, &c.QueryValue)
	fieldActivation.ReadInto(l, &c.ActivationQueryValue)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	conn, err := fieldConnection.Read(l)
	if err != nil {
		return Config{}, err
	}
	if conn != "" {
		cfg, err := driver.ParseDSN(conn)
		if err != nil {
			// The driver's text may quote the DSN: never shown.
			return Config{}, l.InvalidValue("connectionString", "", "is not a valid MySQL DSN (user:password@tcp(host:port)/dbname)")
		}
		c.dsn, c.secret = cfg, conn
		parts := strings.Split(conn, "/")
		c.DBName = parts[len(parts)-1]
	} else {
		if c.dsn, err = partsDSN(l); err != nil {
			return Config{}, err
		}
		c.DBName = c.dsn.DBName
		c.secret = c.dsn.FormatDSN()
	}
	c.dsn.Timeout = 5 * time.Second
	c.Server = c.dsn.Addr + "/" + c.dsn.DBName + " user=" + c.dsn.User
	return c, nil
}

// partsDSN builds the DSN from host, port, username, password and dbName.
func partsDSN(l *sources.Lookup) (*driver.Config, error) {
	cfg := driver.NewConfig()
	cfg.Net = "tcp"
	host, err := fieldHost.Read(l)
	if err != nil {
		return nil, err
	}
	if host == "" {
		return nil, l.Errorf("host: required when connectionString is not given")
	}
	port, err := fieldPort.Read(l)
	if err != nil {
		return nil, err
	}
	if port == "" {
		return nil, l.Errorf("port: required when connectionString is not given")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, l.Invalid("port", "must be a port number (1–65535)")
	}
	cfg.Addr = net.JoinHostPort(host, port)
	if cfg.User, err = fieldUsername.Read(l); err != nil {
		return nil, err
	}
	if cfg.User == "" {
		return nil, l.Errorf("username: required when connectionString is not given")
	}
	if cfg.Passwd, err = fieldPassword.Read(l); err != nil {
		return nil, err
	}
	if cfg.DBName, err = fieldDBName.Read(l); err != nil {
		return nil, err
	}
	return cfg, nil
}
