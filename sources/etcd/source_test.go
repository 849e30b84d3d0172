package etcd

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/etcd/etcdtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

var key = sourcetest.Key

func newEnv(t *testing.T, disablePush bool) *sourcetest.Env[*Source] {
	t.Helper()
	return sourcetest.NewEnv(t, map[string]bool{Type: disablePush}, func(d sources.Deps) *Source {
		return New(d, Options{RewatchWait: 50 * time.Millisecond, DialTimeout: 2 * time.Second})
	})
}

// trigger watches k on s, with User's credentials when s has them.
func trigger(k store.Key, s *etcdtest.Server, watchKey string, poll time.Duration) sources.Trigger {
	tr := sources.Trigger{Key: k, Type: Type, PollingInterval: poll,
		Metadata: map[string]string{"endpoints": s.Addr(), "watchKey": watchKey, "value": "5"}}
	if s.Password() != "" {
		tr.AuthParams = map[string]string{"username": etcdtest.User, "password": s.Password()}
	}
	return tr
}

func put(t *testing.T, s *etcdtest.Server, k, v string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Put(ctx, k, v); err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
}

func TestConformance(t *testing.T) {
	s := needServer(t)
	put(t, s, "/conf", "1")
	sourcetest.Conformance(t, func(d sources.Deps) sources.Source { return New(d, Options{}) }, trigger(key("conf"), s, "/conf", time.Hour))
}

// A put is read at once, though pollingInterval is an hour.
func TestWatchHintsRead(t *testing.T) {
	s := needServer(t)
	put(t, s, "/watch", "0")
	e := newEnv(t, false)
	k := key("watch")
	e.Watch(trigger(k, s, "/watch", time.Hour))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 0)
	for _, v := range []float64{3, 7.5, 0} {
		put(t, s, "/watch", strconv.FormatFloat(v, 'g', -1, 64))
		e.Sink.AwaitValue(t, k, v)
	}
}

// With --disable-push the key is polled: DisabledByConfig.
func TestPolledWhenDisabled(t *testing.T) {
	s := needServer(t)
	put(t, s, "/poll", "0")
	e := newEnv(t, true)
	k := key("poll")
	e.Watch(trigger(k, s, "/poll", 200*time.Millisecond))
	e.Sink.AwaitPush(t, k, ReasonDisabledByConfig)
	e.Sink.AwaitValue(t, k, 0)
	put(t, s, "/poll", "2")
	e.Sink.AwaitValue(t, k, 2)
}

// A missing key, a value that is no number, a wrong password: failed
// reads that never show the password.
func TestFailuresHideSecrets(t *testing.T) {
	s := needServer(t)
	put(t, s, "/nan", "many")
	e := newEnv(t, false)
	wrong := "wrong-" + s.Password()
	for _, tc := range []struct {
		name string
		tr   sources.Trigger
		want string
	}{
		{"missing key", trigger(key("missing"), s, "/missing", time.Hour), `watchKey "/missing" does not exist`},
		{"not a number", trigger(key("nan"), s, "/nan", time.Hour), "not a number"},
		{"wrong password", func() sources.Trigger {
			tr := trigger(key("pw"), s, "/nan", time.Hour)
			tr.AuthParams["password"] = wrong
			return tr
		}(), "username and password refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Watch(tc.tr)
			msg := e.Sink.AwaitFailOf(t, tc.tr.Key)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q does not say %q", msg, tc.want)
			}
			for _, c := range e.Sink.Calls() {
				if strings.Contains(c.Err, s.Password()) || strings.Contains(c.Push.Message, s.Password()) {
					t.Errorf("a sink call shows the password: %v", c)
				}
			}
		})
	}
}

// A member restart: SubscriptionLost while down, then a read and
// Subscribed; a put after the restart is read at once.
func TestRestart(t *testing.T) {
	s := etcdtest.Start(t, etcdtest.Options{})
	put(t, s, "/r", "0")
	e := newEnv(t, false)
	k := key("restart")
	e.Watch(trigger(k, s, "/r", time.Hour))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 0)
	s.Stop()
	e.Sink.AwaitPush(t, k, ReasonSubscriptionLost)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	put(t, s, "/r", "4")
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 4)
}

// A compaction of the revisions behind a current watch leaves it working.
func TestWatchSurvivesCompaction(t *testing.T) {
	s := needServer(t)
	put(t, s, "/c", "1")
	e := newEnv(t, false)
	k := key("compact")
	e.Watch(trigger(k, s, "/c", time.Hour))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 1)
	cli, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	var rev int64
	for i := range 5 {
		r, err := cli.Put(ctx, "/other", string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		rev = r.Header.Revision
	}
	if _, err := cli.Compact(ctx, rev); err != nil {
		t.Fatal(err)
	}
	put(t, s, "/c", "6")
	e.Sink.AwaitValue(t, k, 6)
}

// A put of 1 or more on a key last read at 0 records 1 at once (the
// leading edge), then the value read.
func TestLeadingEdge(t *testing.T) {
	s := needServer(t)
	put(t, s, "/edge", "0")
	e := newEnv(t, false)
	k := key("edge")
	e.Watch(trigger(k, s, "/edge", time.Hour))
	e.Sink.AwaitPush(t, k, ReasonSubscribed)
	e.Sink.AwaitValue(t, k, 0)
	put(t, s, "/edge", "5")
	e.Sink.AwaitValue(t, k, 5)
	got := e.Sink.Records(k)
	if len(got) < 3 || got[len(got)-2] != 1 {
		t.Errorf("records %v, want 1 just before 5", got)
	}
	put(t, s, "/edge", "0.5") // below 1: no lower bound, the read decides
	e.Sink.AwaitValue(t, k, 0.5)
}
