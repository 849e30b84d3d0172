package mysql

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/mysql/mariadbtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

var key = sourcetest.Key

func newEnv(t *testing.T) *sourcetest.Env[*Source] {
	t.Helper()
	return sourcetest.NewEnv(t, nil, func(d sources.Deps) *Source { return New(d, Options{}) })
}

func trigger(k store.Key, s *mariadbtest.Server, query string, poll time.Duration) sources.Trigger {
	return sources.Trigger{Key: k, Type: Type, PollingInterval: poll,
		Metadata: map[string]string{"host": "127.0.0.1", "port": fmt.Sprint(s.Port()), "username": mariadbtest.User,
			"dbName": mariadbtest.DB, "query": query, "queryValue": "5"},
		AuthParams: map[string]string{"password": s.Password()}}
}

func exec(t *testing.T, s *mariadbtest.Server, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
}

func TestConformance(t *testing.T) {
	s := needServer(t)
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d, Options{}) },
		trigger(key("conf"), s, "SELECT 1", time.Hour))
}

// The query is polled every pollingInterval; PushHealthy=False
// NotSupported.
func TestPolled(t *testing.T) {
	s := needServer(t)
	exec(t, s, "CREATE TABLE polled (id int)")
	e := newEnv(t)
	k := key("poll")
	if err := e.Src.Watch(trigger(k, s, "SELECT count(*) FROM polled", 200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e.Sink.AwaitPush(t, k, ReasonNotSupported)
	e.Sink.AwaitValue(t, k, 0)
	exec(t, s, "INSERT INTO polled VALUES (1), (2)")
	e.Sink.AwaitValue(t, k, 2)
}

func TestQueryTypes(t *testing.T) {
	s := needServer(t)
	e := newEnv(t)
	for i, tc := range []struct {
		query string
		want  float64
	}{{"SELECT 7", 7}, {"SELECT 2.5", 2.5}, {"SELECT CAST(1.25 AS DOUBLE)", 1.25}, {"SELECT '4.5'", 4.5}, {"SELECT 12345678901", 12345678901}} {
		k := key(fmt.Sprint("type", i))
		if err := e.Src.Watch(trigger(k, s, tc.query, time.Hour)); err != nil {
			t.Fatal(err)
		}
		e.Sink.AwaitValue(t, k, tc.want)
	}
}

// A wrong password and a bad query fail reads with errors that never
// show the password.
func TestFailuresHideSecrets(t *testing.T) {
	s := needServer(t)
	e := newEnv(t)
	wrong := "wrong-" + s.Password()
	for _, tc := range []struct {
		name string
		tr   sources.Trigger
		want string
	}{
		{"wrong password", func() sources.Trigger {
			tr := trigger(key("pw"), s, "SELECT 1", time.Hour)
			tr.AuthParams["password"] = wrong
			return tr
		}(), "username and password (or connectionString) refused"},
		{"bad query", trigger(key("q"), s, "SELECT * FROM no_such_table", time.Hour), "no_such_table"},
		{"NULL", trigger(key("null"), s, "SELECT NULL", time.Hour), "NULL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := e.Src.Watch(tc.tr); err != nil {
				t.Fatal(err)
			}
			msg := e.Sink.AwaitFailOf(t, tc.tr.Key)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			if strings.Contains(msg, s.Password()) || strings.Contains(e.Logs.String(), s.Password()) {
				t.Errorf("the password is shown: %q", msg)
			}
		})
	}
}

// After a server restart the next poll reads again.
func TestRestart(t *testing.T) {
	s := needServer(t)
	exec(t, s, "CREATE TABLE restart (id int)")
	e := newEnv(t)
	k := key("restart")
	if err := e.Src.Watch(trigger(k, s, "SELECT count(*) FROM restart", 200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	e.Sink.AwaitValue(t, k, 0)
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	exec(t, s, "INSERT INTO restart VALUES (1)")
	e.Sink.AwaitValue(t, k, 1)
}
