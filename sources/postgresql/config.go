package postgresql

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
)

// Type is the trigger type this package serves.
const Type = "postgresql"

// authEnv is KEDA's order for the secret-bearing fields: the
// TriggerAuthentication, then the variable named by <field>FromEnv.
var authEnv = sources.Order{sources.FromAuth, sources.FromEnv}

// The fields of a postgresql trigger: KEDA's (keda.md §4, KEDA's
// postgresql_scaler.go: the connection parts are read from the
// TriggerAuthentication first, then the metadata), then pushscale's
// notifyChannel, which turns push on.
var (
	fieldConnection = sources.Field[string]{Name: "connection", From: authEnv}
	fieldHost       = sources.Field[string]{Name: "host", From: sources.AuthMeta, Target: true}
	fieldPort       = sources.Field[string]{Name: "port", From: sources.AuthMeta}
	fieldUserName   = sources.Field[string]{Name: "userName", From: sources.AuthMeta}
	fieldDBName     = sources.Field[string]{Name: "dbName", From: sources.AuthMeta}
	fieldSSLMode    = sources.Field[string]{Name: "sslmode", From: sources.AuthMeta}
	fieldPassword   = sources.Field[string]{Name: "password", From: authEnv}
	fieldQuery      = sources.Field[string]{Name: "query", Required: true}
	fieldTarget     = sources.Field[float64]{Name: "targetQueryValue", Required: true, Parse: nonZero}
	fieldActivation = sources.Field[float64]{Name: "activationTargetQueryValue", Parse: sources.Number}
	fieldChannel    = sources.Field[string]{Name: "notifyChannel", Parse: channel}
)

// sslModes are the sslmode values libpq and pgx accept.
var sslModes = sources.OneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full")

// Config is the parsed, validated metadata and authentication of one
// postgresql trigger. The connection settings hold the password: they are
// unexported and never printed.
type Config struct {
	// Query is the scalar query; its first column of its first row is the
	// value.
	Query string
	// TargetQueryValue is the HPA target; ActivationTargetQueryValue the
	// activation threshold.
	TargetQueryValue, ActivationTargetQueryValue float64
	// NotifyChannel is the channel LISTENed to (empty: no push).
	NotifyChannel string
	// Server names the server, database and user without the password
	// ("127.0.0.1:5432/app user=scaler"), for endpoint ids and messages.
	Server string

	conn *pgx.ConnConfig
	// secret is the whole connection text (password included), hashed
	// into endpoint ids so that different credentials never share one.
	secret string
}

// Spec is KEDA's metric: a constant name, "s<index>-postgresql".
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, "postgresql"),
		Target:     c.TargetQueryValue,
		Activation: c.ActivationTargetQueryValue,
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
	fieldTarget.ReadInto(l, &c.TargetQueryValue)
	fieldActivation.ReadInto(l, &c.ActivationTargetQueryValue)
	fieldChannel.ReadInto(l, &c.NotifyChannel)
	if err := l.Err(); err != nil {
		return Config{}, err
	}
	conn, err := fieldConnection.Read(l)
	if err != nil {
		return Config{}, err
	}
	field := "connection"
	if conn == "" {
		field = "host"
		if conn, err = partsConnection(l); err != nil {
			return Config{}, err
		}
	}
	cc, err := pgx.ParseConfig(conn)
	if err != nil {
		// pgx's text may quote the connection string: never shown.
		return Config{}, l.InvalidValue(field, "", "is not a valid PostgreSQL connection string or URL")
	}
	c.conn, c.secret = cc, conn
	c.Server = fmt.Sprintf("%s:%d/%s user=%s", cc.Host, cc.Port, cc.Database, cc.User)
	return c, nil
}

// partsConnection builds a keyword/value connection string from host,
// port, userName, dbName, sslmode and password, each required but the
// password, as KEDA does.
func partsConnection(l *sources.Lookup) (string, error) {
	var parts []string
	for _, f := range []sources.Field[string]{fieldHost, fieldPort, fieldUserName, fieldDBName, fieldSSLMode} {
		v, err := f.Read(l)
		if err != nil {
			return "", err
		}
		if v == "" {
			return "", l.Errorf("%s: required when connection is not given", f.Name)
		}
		switch f.Name {
		case "port":
			if n, err := strconv.Atoi(v); err != nil || n < 1 || n > 65535 {
				return "", l.Invalid(f.Name, "must be a port number (1–65535)")
			}
		case "sslmode":
			if _, err := sslModes(v); err != nil {
				return "", l.Invalid(f.Name, err.Error())
			}
		}
		parts = append(parts, keyword(f.Name)+"="+quote(v))
	}
	pw, err := fieldPassword.Read(l)
	if err != nil {
		return "", err
	}
	if pw != "" {
		parts = append(parts, "password="+quote(pw))
	}
	return strings.Join(parts, " "), nil
}

// keyword is the libpq keyword of a KEDA field.
func keyword(field string) string {
	switch field {
	case "userName":
		return "user"
	case "dbName":
		return "dbname"
	}
	return field
}

// quote quotes a keyword/value connection string value when it needs it:
// empty, or holding white space, a quote or a backslash.
func quote(v string) string {
	if v != "" && !strings.ContainsFunc(v, unicode.IsSpace) && !strings.ContainsAny(v, `'\`) {
		return v
	}
	v = strings.ReplaceAll(v, `\`, `\\`)
	return "'" + strings.ReplaceAll(v, `'`, `\'`) + "'"
}

// nonZero parses a finite number other than 0 (KEDA refuses a
// targetQueryValue of 0).
func nonZero(s string) (float64, error) {
	v, err := sources.Number(s)
	if err != nil {
		return 0, err
	}
	if v == 0 {
		return 0, errors.New("must not be 0")
	}
	return v, nil
}

// maxChannel is PostgreSQL's identifier length (NAMEDATALEN - 1).
const maxChannel = 63

// channel checks a notifyChannel: taken exactly as written (it is quoted
// in LISTEN, so it is case-sensitive, as pg_notify's first argument is).
func channel(s string) (string, error) {
	if len(s) > maxChannel {
		return "", fmt.Errorf("must be at most %d bytes (PostgreSQL's identifier length)", maxChannel)
	}
	if strings.ContainsRune(s, 0) {
		return "", errors.New("must not contain NUL")
	}
	return s, nil
}
