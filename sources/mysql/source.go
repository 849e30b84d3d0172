package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// ReasonNotSupported is the PushHealthy reason of every mysql trigger.
const ReasonNotSupported = "NotSupported"

// Options configure a Source. The zero value is usable.
type Options struct {
	// MaxReadConns bounds the pool of one DSN; default 2.
	MaxReadConns int
}

// Source serves mysql triggers. It is safe for concurrent use.
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
	sources.Default(&opts.MaxReadConns, 2)
	s := &Source{opts: opts}
	s.Broker = sources.NewBroker(Type, d, ParseConfig, s.binding)
	return s
}

func (s *Source) binding(_ sources.Trigger, c Config) sources.Binding[*endpoint, *resource] {
	b := sources.Binding[*endpoint, *resource]{
		Endpoint: "mysql://" + c.Server + " auth=" + s.Hash(c.secret),
		Resource: "query " + strconv.Quote(c.Query),
	}
	b.NewEndpoint = func() (*endpoint, error) { return newEndpoint(s, b.Endpoint, c) }
	b.NewResource = func(ep *endpoint, _ sources.ResourceID) *resource { return &resource{ep: ep, query: c.Query} }
	return b
}

// endpoint is one DSN's connection pool; it has no push path.
type endpoint struct {
	s      *Source
	id     string
	server string
	db     *sql.DB
}

func newEndpoint(s *Source, id string, c Config) (*endpoint, error) {
	conn, err := driver.NewConnector(c.dsn)
	if err != nil {
		return nil, errors.New("mysql: connectionString: cannot make a connector of it")
	}
	db := sql.OpenDB(conn) // connects lazily
	db.SetMaxOpenConns(s.opts.MaxReadConns)
	db.SetMaxIdleConns(s.opts.MaxReadConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return &endpoint{s: s, id: id, server: c.Server, db: db}, nil
}

// Run reports that nothing is pushed, then waits.
func (e *endpoint) Run(ctx context.Context) {
	e.s.Deps.Scheduler.SetPush(e.id, "", store.Push{Reason: ReasonNotSupported,
		Message: "MySQL has no push a client can subscribe to: the query is read every pollingInterval, as KEDA does"})
	<-ctx.Done()
}

// Close closes the pool.
func (e *endpoint) Close() { _ = e.db.Close() }

// Add and Remove have nothing to do: the Scheduler polls, and the health
// Run gave the endpoint holds for resources added later.
func (e *endpoint) Add(*resource)    {}
func (e *endpoint) Remove(*resource) {}

// A resource is one query on one DSN.
type resource struct {
	ep    *endpoint
	query string
}

// Read runs the query and returns its first column of its first row.
func (r *resource) Read(ctx context.Context) (float64, error) {
	var v any
	if err := r.ep.db.QueryRowContext(ctx, r.query).Scan(&v); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return 0, errors.New("mysql: query returned no rows")
		}
		return 0, fmt.Errorf("mysql: query on %s: %w", r.ep.server, explain(err))
	}
	switch x := v.(type) {
	case nil:
		return 0, errors.New("mysql: query returned NULL")
	case int64:
		return float64(x), nil
	case uint64:
		return float64(x), nil
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case []byte:
		return parse(string(x))
	case string:
		return parse(x)
	}
	return 0, fmt.Errorf("mysql: query returned a %T, not a number", v)
}

func parse(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		if len(s) > 40 {
			s = s[:40] + "…"
		}
		return 0, fmt.Errorf("mysql: query returned %q, not a number", s)
	}
	return f, nil
}

// explain names the fields behind a refused login or unknown database.
func explain(err error) error {
	var me *driver.MySQLError
	if errors.As(err, &me) {
		switch me.Number {
		case 1045: // ER_ACCESS_DENIED_ERROR
			return fmt.Errorf("username and password (or connectionString) refused: %w", err)
		case 1049: // ER_BAD_DB_ERROR
			return fmt.Errorf("dbName (or connectionString): %w", err)
		}
	}
	return err
}
