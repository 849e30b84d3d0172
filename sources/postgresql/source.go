package postgresql

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pushscale/pushscale/sources"
)

// The PushHealthy reasons this source reports.
const (
	ReasonSubscribed       = "Subscribed"
	ReasonSubscriptionLost = "SubscriptionLost"
	ReasonNotSupported     = "NotSupported"
	ReasonDisabledByConfig = "DisabledByConfig"
)

// Options configure a Source. The zero value is usable.
type Options struct {
	// ConnectTimeout bounds one connection attempt; default 5 s.
	ConnectTimeout time.Duration
	// ReconnectWait is the first wait between failed LISTEN connection
	// attempts, doubled up to 30 s, with jitter; default 500 ms.
	ReconnectWait time.Duration
	// MaxReadConns bounds the read pool of one endpoint; default 2.
	MaxReadConns int
}

func (o Options) withDefaults() Options {
	sources.Default(&o.ConnectTimeout, 5*time.Second)
	sources.Default(&o.ReconnectWait, 500*time.Millisecond)
	sources.Default(&o.MaxReadConns, 2)
	return o
}

// Source serves postgresql triggers. It is safe for concurrent use.
type Source struct {
	*sources.Broker[Config, *endpoint, *resource]
	opts Options
}

var _ sources.Source = (*Source)(nil)

// Family registers the source with the gateway's sources.Registry.
func Family(opts Options) sources.Family {
	return sources.Family{Name: Type, Types: []string{Type}, New: func(d sources.Deps) sources.Source { return New(d, opts) }}
}

// New returns a source reading through d.Scheduler; nothing runs until
// Start.
func New(d sources.Deps, opts Options) *Source {
	s := &Source{opts: opts.withDefaults()}
	s.Broker = sources.NewBroker(Type, d, ParseConfig, s.binding)
	return s
}

// binding says what a trigger reads: its query on the endpoint of its
// server, database and credential, hinted by its notifyChannel. Triggers
// with the same query and channel share one read.
func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[*endpoint, *resource] {
	b := sources.Binding[*endpoint, *resource]{
		Endpoint: "postgresql://" + c.Server + " auth=" + s.Hash(c.secret),
		Resource: "channel " + strconv.Quote(c.NotifyChannel) + " query " + strconv.Quote(c.Query),
	}
	b.NewEndpoint = func() (*endpoint, error) { return newEndpoint(s, b.Endpoint, c) }
	b.NewResource = func(ep *endpoint, id sources.ResourceID) *resource {
		return &resource{ep: ep, id: id, query: c.Query, channel: c.NotifyChannel}
	}
	return b
}

// A resource is one query, shared by the triggers that run the same one
// and LISTEN to the same channel.
type resource struct {
	ep      *endpoint
	id      sources.ResourceID
	query   string
	channel string
}

// Read runs the query on the endpoint's pool and returns its first
// column of its first row.
//
// A pooled connection the server dropped (a restart) is only found out
// by using it, unless it was idle for over a second (pgxpool's ping): a
// read that fails on the connection itself, not with an error of the
// server, closes the pool's connections and runs once more on a new one.
func (r *resource) Read(ctx context.Context) (float64, error) {
	v, err := r.query1(ctx)
	if err != nil && ctx.Err() == nil && connectionLost(err) {
		r.ep.pool.Reset()
		v, err = r.query1(ctx)
	}
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, errors.New("postgresql: query returned no rows")
		}
		return 0, fmt.Errorf("postgresql: query on %s: %w", r.ep.server, explain(err))
	}
	f, err := toFloat(v)
	if err != nil {
		return 0, fmt.Errorf("postgresql: query on %s: %w", r.ep.server, err)
	}
	return f, nil
}

// connectionLost reports whether err is the loss of the connection (the
// server's shutdown notice, SQLSTATE class 57P or 08, or no answer of the
// server at all) rather than an error of the query.
func connectionLost(err error) bool {
	if errors.Is(err, pgx.ErrNoRows) {
		return false
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return strings.HasPrefix(pe.Code, "57P") || strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	return !errors.As(err, &ce) // a refused connection attempt is not retried at once
}

func (r *resource) query1(ctx context.Context) (any, error) {
	var v any
	err := r.ep.pool.QueryRow(ctx, r.query).Scan(&v)
	return v, err
}

// explain names the fields behind a refused connection: the server's
// error says what was refused, never the password.
func explain(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			return fmt.Errorf("userName and password (or connection) refused: %w", err)
		case "3D000": // invalid_catalog_name
			return fmt.Errorf("dbName (or connection): %w", err)
		}
	}
	return err
}

// toFloat converts the value of a query's first column.
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case nil:
		return 0, errors.New("query returned NULL")
	case int64:
		return float64(x), nil
	case int32:
		return float64(x), nil
	case int16:
		return float64(x), nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil || !f.Valid {
			return 0, errors.New("query returned a numeric that is not a number")
		}
		return f.Float64, nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("query returned %q, not a number", truncate(x))
		}
		return f, nil
	}
	return 0, fmt.Errorf("query returned a %T, not a number", v)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// newPool returns the endpoint's read pool; it connects lazily.
func newPool(s *Source, c Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig("")
	if err != nil {
		return nil, fmt.Errorf("postgresql: %w", err)
	}
	pc.ConnConfig = c.conn.Copy()
	pc.ConnConfig.ConnectTimeout = s.opts.ConnectTimeout
	pc.MaxConns = int32(s.opts.MaxReadConns)
	pc.MinConns = 0
	pc.MaxConnIdleTime = 5 * time.Minute
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("postgresql: read pool for %s: %w", c.Server, err)
	}
	return pool, nil
}

// closeTimeout bounds closing a LISTEN connection.
const closeTimeout = 2 * time.Second
