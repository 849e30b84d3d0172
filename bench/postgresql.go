package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/sources/postgresql"
	"github.com/pushscale/pushscale/sources/postgresql/pgtest"
)

// This file is the postgresql part: INSERT + NOTIFY → spec.replicas = 1
// by LISTEN (notifyChannel), and the same with push disabled (the query
// polled at pollingInterval 1 s), in one run.

const (
	pgPushNamespace = "bench-pg-push"
	pgPollNamespace = "bench-pg-poll"
)

// PostgreSQLResult is the postgresql part.
type PostgreSQLResult struct {
	Method string        `json:"method"`
	Series []*NATSSeries `json:"series"`
}

func pgMethod() string {
	return "One private PostgreSQL 15 server (pgtest: loopback, run as nobody, fsync off) for the part; one table jobs(target); " +
		"one Deployment at 0 per target, its ScaledObject of KEDA's postgresql shape (host, port, userName, dbName, sslmode in " +
		"metadata, the password from a TriggerAuthentication; query SELECT count(*) FROM jobs WHERE target = '<name>', " +
		"targetQueryValue 1, cooldownPeriod 86400, maxReplicaCount 1, pollingInterval 1 s) plus notifyChannel <name>. t0 just " +
		"before one statement INSERT INTO jobs VALUES ('<name>'); SELECT pg_notify('<name>', '') on an open connection, t1 when " +
		"a Deployment informer delivers spec.replicas == 1. (a) push: one at a time " + activationPause.String() + " apart; (b) the " +
		"same ScaledObjects in another namespace on a gateway restarted with DisablePush [postgresql] watching it only, each " +
		"statement at a random moment within the series' spread."
}

// measurePostgreSQL runs the part: series (a) then (b).
func measurePostgreSQL(ctx context.Context, e *env, cfg config) (*PostgreSQLResult, error) {
	res := &PostgreSQLResult{Method: pgMethod()}
	srv, err := pgtest.New()
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	pool, err := pgxpool.New(ctx, srv.URL())
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE jobs (target text)"); err != nil {
		return nil, err
	}
	for _, series := range []struct {
		name, ns string
		poll     bool
		n        int
	}{
		{"(a) NOTIFY", pgPushNamespace, false, cfg.activations},
		{"(b) push disabled, polled at 1 s", pgPollNamespace, true, cfg.pollTargets},
	} {
		s, err := e.pgSeries(ctx, srv, pool, series.name, series.ns, series.poll, series.n)
		if s != nil {
			res.Series = append(res.Series, s)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func pgSpec(srv *pgtest.Server, target string, polling time.Duration) soSpec {
	return soSpec{cooldown: 86400, maxReplicas: 1, authRef: "pg", pollingInterval: int32(polling / time.Second),
		postgresql: map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(srv.Port()), "userName": pgtest.User,
			"dbName": pgtest.DB, "sslmode": "disable", "query": "SELECT count(*) FROM jobs WHERE target = '" + target + "'",
			"targetQueryValue": "1", "notifyChannel": target}}
}

func (e *env) pgSeries(ctx context.Context, srv *pgtest.Server, pool *pgxpool.Pool, name, ns string, poll bool, n int) (*NATSSeries, error) {
	var gw func(*gateway.Options)
	want := metav1.ConditionTrue
	if poll {
		gw = func(o *gateway.Options) { o.WatchNamespace = ns; o.DisablePush = []string{postgresql.Type} }
		want = metav1.ConditionFalse
	}
	if err := e.useGateway(ctx, gw); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	if err := e.createSecretAuth(ctx, ns, "pg", "password", srv.Password()); err != nil {
		return nil, err
	}
	objs := names(ns[len("bench-"):], n)
	return e.timedSeries(ctx, "postgresql", name, ns, objs, !poll, want, func(i int) soSpec { return pgSpec(srv, objs[i], time.Second) },
		func(ctx context.Context, target string) error {
			quoted := "'" + target + "'" // bench names are [a-z0-9-]
			_, err := pool.Exec(ctx, "INSERT INTO jobs VALUES ("+quoted+"); SELECT pg_notify("+quoted+", '')", pgx.QueryExecModeSimpleProtocol)
			return err
		})
}

func printPostgreSQL(w io.Writer, r *PostgreSQLResult) {
	fmt.Fprintf(w, "\nPostgreSQL: INSERT + NOTIFY → spec.replicas=1 by LISTEN and with push disabled (polled at 1 s)\n")
	wrap(w, "   method: ", r.Method)
	for _, s := range r.Series {
		printSeries(w, s)
	}
}

// checkPostgreSQL adds the part's check: NOTIFY p99 under 50 ms (a hint
// and one query, as a Kafka or JetStream push).
func (r *Report) checkPostgreSQL() {
	if r.PostgreSQL == nil {
		return
	}
	for _, s := range r.PostgreSQL.Series {
		if s.Push {
			r.Checks = append(r.Checks, Check{What: "postgresql NOTIFY → spec.replicas=1, p99, " + s.Name,
				Target: "≤ 50 ms", Got: fmtMs(s.ToReplicas.P99Ms), Pass: s.ToReplicas.P99Ms <= 50})
		}
	}
}
