package postgresql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/postgresql/pgtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

var key = sourcetest.Key

func newEnv(t *testing.T, disablePush bool) *sourcetest.Env[*Source] {
	t.Helper()
	return sourcetest.NewEnv(t, map[string]bool{Type: disablePush}, func(d sources.Deps) *Source {
		return New(d, Options{ReconnectWait: 50 * time.Millisecond})
	})
}

// trigger reads count(*) of table on s; its password is in the
// TriggerAuthentication; md adds or, with "-", removes metadata.
func trigger(k store.Key, s *pgtest.Server, table string, poll time.Duration, md map[string]string) sources.Trigger {
	m := map[string]string{"host": "127.0.0.1", "port": fmt.Sprint(s.Port()), "userName": pgtest.User, "dbName": pgtest.DB,
		"sslmode": "disable", "query": "SELECT count(*) FROM " + table, "targetQueryValue": "5"}
	for k, v := range md {
		if v == "-" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	return sources.Trigger{Key: k, Type: Type, Metadata: m, PollingInterval: poll,
		AuthParams: map[string]string{"password": s.Password()}}
}

func exec(t *testing.T, s *pgtest.Server, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func table(t *testing.T, s *pgtest.Server) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "_", " ", "_", "'", "").Replace(t.Name()))
	exec(t, s, "DROP TABLE IF EXISTS "+name+"; CREATE TABLE "+name+" (id serial)")
	return name
}

func TestConformance(t *testing.T) {
	s := needServer(t)
	tb := table(t, s)
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d, Options{}) },
		trigger(key("conf"), s, tb, time.Hour, map[string]string{"notifyChannel": "conf"}))
}

// A NOTIFY runs the query at once, though pollingInterval is an hour.
func TestNotifyHintsRead(t *testing.T) {
	s := needServer(t)
	tb := table(t, s)
	e := newEnv(t, false)
	k := key("notify")
	e.Watch(trigger(k, s, tb, time.Hour, map[string]string{"notifyChannel": "Jobs Queue"}))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 0)
	exec(t, s, "INSERT INTO "+tb+" DEFAULT VALUES; INSERT INTO "+tb+" DEFAULT VALUES; NOTIFY \"Jobs Queue\", 'x'")
	e.Sink.AwaitValue(t, k, 2)

	// A second channel on the same endpoint is LISTENed to on the same
	// connection, which keeps delivering the first.
	k2 := key("notify2")
	e.Watch(trigger(k2, s, tb, time.Hour, map[string]string{"notifyChannel": "other", "query": "SELECT count(*)*10 FROM " + tb}))
	e.Sink.AwaitPush(t, k2, ReasonSubscribed)
	e.Sink.AwaitValue(t, k2, 20)
	exec(t, s, "INSERT INTO "+tb+" DEFAULT VALUES; SELECT pg_notify('other', '')")
	e.Sink.AwaitValue(t, k2, 30)
	exec(t, s, "INSERT INTO "+tb+" DEFAULT VALUES; SELECT pg_notify('Jobs Queue', '')")
	e.Sink.AwaitValue(t, k, 4)

	// An unwatched channel is UNLISTENed: no more reads for it.
	e.Src.Unwatch(k2)
	exec(t, s, "INSERT INTO "+tb+" DEFAULT VALUES; SELECT pg_notify('Jobs Queue', '')")
	e.Sink.AwaitValue(t, k, 5)
}

// Without notifyChannel the query is polled (NotSupported); with
// --disable-push it is polled too (DisabledByConfig).
func TestPolledWithoutPush(t *testing.T) {
	s := needServer(t)
	tb := table(t, s)
	for _, tc := range []struct {
		name     string
		disabled bool
		md       map[string]string
		reason   string
	}{
		{"no notifyChannel", false, nil, ReasonNotSupported},
		{"push disabled", true, map[string]string{"notifyChannel": "jobs"}, ReasonDisabledByConfig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.disabled)
			k := key("poll")
			e.Watch(trigger(k, s, tb, 200*time.Millisecond, tc.md))
			e.Sink.AwaitPush(t, k, tc.reason)
			e.Sink.AwaitValue(t, k, 0)
			exec(t, s, "INSERT INTO "+tb+" DEFAULT VALUES")
			e.Sink.AwaitValue(t, k, 1)
			exec(t, s, "DELETE FROM "+tb)
		})
	}
}

// The value is whatever the first column is: numeric, float, integer.
func TestQueryTypes(t *testing.T) {
	s := needServer(t)
	e := newEnv(t, false)
	for i, tc := range []struct {
		query string
		want  float64
	}{
		{"SELECT 7", 7}, {"SELECT 2.5::numeric", 2.5}, {"SELECT 1.25::float8", 1.25}, {"SELECT 3::int2", 3},
		{"SELECT '4.5'::text", 4.5}, {"SELECT 12345678901::bigint", 12345678901},
	} {
		k := key(fmt.Sprint("type", i))
		e.Watch(trigger(k, s, "x", time.Hour, map[string]string{"query": tc.query}))
		e.Sink.AwaitValue(t, k, tc.want)
	}
}

// A wrong password, an unreachable server and a bad query fail the
// trigger's reads with errors that name the server, never the password.
func TestFailuresHideSecrets(t *testing.T) {
	s := needServer(t)
	e := newEnv(t, false)
	wrong := "wrong-" + s.Password()
	for _, tc := range []struct {
		name string
		tr   sources.Trigger
		want string
	}{
		{"wrong password", func() sources.Trigger {
			tr := trigger(key("pw"), s, "x", time.Hour, map[string]string{"notifyChannel": "c"})
			tr.AuthParams["password"] = wrong
			return tr
		}(), "userName and password (or connection) refused"},
		{"unreachable", func() sources.Trigger {
			tr := trigger(key("down"), s, "x", time.Hour, map[string]string{"port": "1"})
			tr.AuthParams["password"] = wrong
			return tr
		}(), "127.0.0.1"},
		{"bad query", trigger(key("query"), s, "no_such_table", time.Hour, nil), "no_such_table"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Watch(tc.tr)
			msg := e.Sink.AwaitFailOf(t, tc.tr.Key)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			for _, c := range e.Sink.Calls() {
				if strings.Contains(c.Err, wrong) || strings.Contains(c.Push.Message, wrong) ||
					strings.Contains(c.Err, s.Password()) || strings.Contains(c.Push.Message, s.Password()) {
					t.Errorf("a sink call shows the password: %v", c)
				}
			}
			if strings.Contains(e.Logs.String(), s.Password()) {
				t.Errorf("the log shows the password")
			}
		})
	}
}

// After the server restarts, the channel is LISTENed to again, the query
// is read again, and a NOTIFY still hints.
func TestReconnect(t *testing.T) {
	s := pgtest.Start(t)
	exec(t, s, "CREATE TABLE jobs (id serial)")
	e := newEnv(t, false)
	k := key("restart")
	e.Watch(trigger(k, s, "jobs", time.Hour, map[string]string{"notifyChannel": "jobs"}))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 0)
	s.Stop()
	e.Sink.AwaitPush(t, k, ReasonSubscriptionLost)
	n := len(e.Sink.Records(k))
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.Await(t, "a read after the reconnect", func() bool { return len(e.Sink.Records(k)) > n })
	exec(t, s, "INSERT INTO jobs DEFAULT VALUES; NOTIFY jobs")
	e.Sink.AwaitValue(t, k, 1)
}

// Rows committed while the LISTEN connection is down, with no NOTIFY, are
// found by the read that follows the reconnect.
func TestNothingLostWhileDown(t *testing.T) {
	s := needServer(t)
	tb := table(t, s)
	e := newEnv(t, false)
	k := key("lost")
	e.Watch(trigger(k, s, tb, time.Hour, map[string]string{"notifyChannel": "lost"}))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 0)
	exec(t, s, "BEGIN; SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%lost%'; "+
		"INSERT INTO "+tb+" DEFAULT VALUES; COMMIT")
	e.Sink.AwaitValue(t, k, 1)
}

// A read right after a server restart, on a pooled connection the server
// dropped, is run again on a new one: no failure is recorded once the
// server is back (a poll while it was down fails, as it should).
func TestReadAfterQuickRestart(t *testing.T) {
	s := pgtest.Start(t)
	exec(t, s, "CREATE TABLE jobs (id serial)")
	e := newEnv(t, false)
	k := key("quick")
	e.Watch(trigger(k, s, "jobs", 300*time.Millisecond, nil))
	e.Sink.AwaitValue(t, k, 0)
	for range 2 {
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	back := len(e.Sink.Calls())
	exec(t, s, "INSERT INTO jobs DEFAULT VALUES")
	e.Sink.AwaitValue(t, k, 1)
	for _, c := range e.Sink.Calls()[back:] {
		if c.Op == sourcetest.OpFail {
			t.Errorf("a read failed: %v", c)
		}
	}
}
