package redis

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources/redis/redistest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func TestEndpointID(t *testing.T) {
	s := New(sourcetest.NewDeps(t, sourcetest.NewSink()), Options{})
	parse := func(typ string, md, auth map[string]string) Config {
		t.Helper()
		c, err := ParseConfig(trigger(typ, md, auth, nil))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	base := map[string]string{"addresses": "b:2,a:1", "listName": "q", "sentinelMaster": "m"}
	a := parse(TypeRedisSentinel, base, map[string]string{"password": testPassword, "sentinelPassword": testSentinelPassword})
	id := s.endpointID(a)
	if strings.Contains(id, testPassword) || strings.Contains(id, testSentinelPassword) {
		t.Errorf("endpoint id %q shows a password", id)
	}
	if !strings.HasPrefix(id, "redis-sentinel://a:1,b:2/0 ") {
		t.Errorf("endpoint id %q", id)
	}
	same := parse(TypeRedisSentinelStreams, map[string]string{"addresses": "a:1, b:2", "stream": "s", "sentinelMaster": "m"},
		map[string]string{"password": testPassword, "sentinelPassword": testSentinelPassword})
	if s.endpointID(same) != id {
		t.Errorf("a streams trigger on the same connection: %q, want %q", s.endpointID(same), id)
	}
	other := parse(TypeRedisSentinel, base, map[string]string{"password": "other", "sentinelPassword": testSentinelPassword})
	if s.endpointID(other) == id {
		t.Error("another password shares the endpoint")
	}
	tlsOn := parse(TypeRedisSentinel, map[string]string{"addresses": "a:1,b:2", "listName": "q", "sentinelMaster": "m", "enableTLS": "true"},
		map[string]string{"password": testPassword, "sentinelPassword": testSentinelPassword})
	if s.endpointID(tlsOn) == id {
		t.Error("TLS shares the endpoint of plain TCP")
	}
	if New(sourcetest.NewDeps(t, sourcetest.NewSink()), Options{}).endpointID(a) == id {
		t.Error("the credential hash is not keyed per source")
	}
	cluster := parse(TypeRedisCluster, map[string]string{"addresses": "a:1", "listName": "q", "databaseIndex": "3"}, nil)
	if got := s.endpointID(cluster); !strings.HasPrefix(got, "redis-cluster://a:1 ") {
		t.Errorf("cluster endpoint id %q", got)
	}
}

func TestGroupLag(t *testing.T) {
	group := func(name string, lag any) []any {
		return []any{"name", name, "consumers", int64(0), "pending", int64(0), "last-delivered-id", "0-0", "entries-read", nil, "lag", lag}
	}
	for _, tt := range []struct {
		name    string
		reply   any
		lag     int64
		found   bool
		wantErr string
	}{
		{"found", []any{group("other", int64(9)), group("g", int64(4))}, 4, true, ""},
		{"absent group", []any{group("other", int64(9))}, 0, false, ""},
		{"NULL lag", []any{group("g", nil)}, 0, true, "cannot tell its lag"},
		{"Redis 6 has no lag", []any{[]any{"name", "g", "pending", int64(1)}}, 0, true, "Redis 7"},
		{"not a list", "x", 0, false, "unexpected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lag, found, err := groupLag(tt.reply, "g")
			if lag != tt.lag || found != tt.found || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("groupLag = %d, %v, %v; want %d, %v, %q", lag, found, err, tt.lag, tt.found, tt.wantErr)
			}
		})
	}
}

func TestRedirection(t *testing.T) {
	for _, tt := range []struct {
		err       error
		addr      string
		ask, isRe bool
	}{
		{replyErr("MOVED 3999 127.0.0.1:6381"), "127.0.0.1:6381", false, true},
		{replyErr("ASK 3999 127.0.0.1:6382"), "127.0.0.1:6382", true, true},
		{replyErr("ERR something"), "", false, false},
		{errors.New("MOVED 1 a:1"), "", false, false}, // not a server reply
		{nil, "", false, false},
	} {
		addr, ask, ok := redirection(tt.err)
		if addr != tt.addr || ask != tt.ask || ok != tt.isRe {
			t.Errorf("redirection(%v) = %q, %v, %v", tt.err, addr, ask, ok)
		}
	}
}

type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}

func TestBackoff(t *testing.T) {
	for n, top := range map[int]time.Duration{0: 100 * time.Millisecond, 1: 200 * time.Millisecond, 5: 3200 * time.Millisecond, 9: 30 * time.Second, 60: 30 * time.Second} {
		for range 50 {
			if d := backoff(n); d < top/2 || d > top {
				t.Errorf("backoff(%d) = %s, want in [%s, %s]", n, d, top/2, top)
			}
		}
	}
}

// TestHealthCheck: a silent subscription is PINGed and survives; one that
// stops answering (CLIENT PAUSE) is dropped and comes back.
func TestHealthCheck(t *testing.T) {
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	rdb := srv.Client()
	e := newEnv(t, Options{HealthCheckInterval: 100 * time.Millisecond})
	e.watch(trig(keyA, TypeRedis, map[string]string{"address": srv.Addr(), "listName": "q"}, nil, idle))
	e.awaitPush(keyA, ReasonSubscribed)
	pings := func() int {
		info, _ := rdb.Info(t.Context(), "commandstats").Result()
		for _, line := range strings.Split(info, "\n") {
			if rest, ok := strings.CutPrefix(line, "cmdstat_ping:calls="); ok {
				n := 0
				for _, c := range rest {
					if c < '0' || c > '9' {
						break
					}
					n = n*10 + int(c-'0')
				}
				return n
			}
		}
		return 0
	}
	sourcetest.Eventually(t, "a few PINGs on the silent connection", func() bool { return pings() >= 3 })
	if p, _ := e.sink.Push(keyA); p.Reason != ReasonSubscribed {
		t.Fatalf("push %+v while PINGs are answered", p)
	}

	if err := rdb.Do(t.Context(), "CLIENT", "PAUSE", "1000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	e.awaitPush(keyA, ReasonSubscriptionLost)
	e.awaitPush(keyA, ReasonSubscribed)
	rdb.RPush(t.Context(), "q", "x")
	e.awaitValue(keyA, "1 after the pause", func(v float64) bool { return v == 1 })
}
