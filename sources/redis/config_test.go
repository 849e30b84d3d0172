package redis

import (
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
)

const (
	testPassword         = "pw-7c1e55-SECRET"
	testSentinelPassword = "sentinel-pw-99ab-SECRET"
)

func trigger(typ string, md, auth, env map[string]string) sources.Trigger {
	return sources.Trigger{Key: keyA, Type: typ, Metadata: md, AuthParams: auth, ResolvedEnv: env}
}

func TestParseConfigList(t *testing.T) {
	tests := []struct {
		name       string
		typ        string
		md         map[string]string
		auth, env  map[string]string
		check      func(t *testing.T, c Config)
		metricName string
	}{
		{
			name: "defaults", typ: TypeRedis,
			md: map[string]string{"address": "redis:6379", "listName": "jobs"},
			check: func(t *testing.T, c Config) {
				want(t, "Addresses", c.Addresses, []string{"redis:6379"})
				want(t, "ListLength", c.ListLength, int64(5))
				want(t, "ActivationListLength", c.ActivationListLength, int64(0))
				want(t, "DatabaseIndex", c.DatabaseIndex, 0)
				want(t, "EnableTLS", c.EnableTLS, false)
				want(t, "Kind", c.Kind, Standalone)
			},
			metricName: "s0-redis-jobs",
		},
		{
			name: "every list key", typ: TypeRedis,
			md: map[string]string{"address": "redis:6379", "listName": "my.list:a", "listLength": "12", "activationListLength": "3",
				"databaseIndex": "2", "username": "app", "enableTLS": "true", "unsafeSsl": "true"},
			check: func(t *testing.T, c Config) {
				want(t, "ListName", c.ListName, "my.list:a")
				want(t, "ListLength", c.ListLength, int64(12))
				want(t, "ActivationListLength", c.ActivationListLength, int64(3))
				want(t, "DatabaseIndex", c.DatabaseIndex, 2)
				want(t, "Username", c.Username, "app")
				want(t, "EnableTLS", c.EnableTLS, true)
				want(t, "UnsafeSSL", c.UnsafeSSL, true)
			},
			metricName: "s0-redis-my-list-a",
		},
		{
			name: "host and port", typ: TypeRedis,
			md:    map[string]string{"host": "redis", "port": "6380", "listName": "q"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"redis:6380"}) },
		},
		{
			name: "standalone uses the first of addresses", typ: TypeRedis,
			md:    map[string]string{"addresses": "a:1, b:2", "listName": "q"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"a:1"}) },
		},
		{
			name: "cluster addresses, databaseIndex ignored", typ: TypeRedisCluster,
			md: map[string]string{"addresses": "a:1, b:2,c:3", "listName": "q", "databaseIndex": "4"},
			check: func(t *testing.T, c Config) {
				want(t, "Addresses", c.Addresses, []string{"a:1", "b:2", "c:3"})
				want(t, "DatabaseIndex", c.DatabaseIndex, 0)
				want(t, "Kind", c.Kind, Cluster)
			},
		},
		{
			name: "cluster hosts and ports", typ: TypeRedisCluster,
			md:    map[string]string{"hosts": "a, b", "ports": "1,2", "listName": "q"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"a:1", "b:2"}) },
		},
		{
			name: "address and hosts together, as KEDA adds them", typ: TypeRedisCluster,
			md:    map[string]string{"addresses": "a:1", "hosts": "b", "ports": "2", "listName": "q"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"a:1", "b:2"}) },
		},
		{
			name: "sentinel", typ: TypeRedisSentinel,
			md: map[string]string{"addresses": "s1:26379,s2:26379", "listName": "q", "sentinelMaster": "mymaster",
				"sentinelUsername": "sent", "databaseIndex": "1"},
			auth: map[string]string{"sentinelPassword": testSentinelPassword},
			check: func(t *testing.T, c Config) {
				want(t, "SentinelMaster", c.SentinelMaster, "mymaster")
				want(t, "SentinelUsername", c.SentinelUsername, "sent")
				want(t, "sentinelPassword", c.sentinelPassword, testSentinelPassword)
				want(t, "DatabaseIndex", c.DatabaseIndex, 1)
				want(t, "Kind", c.Kind, Sentinel)
			},
		},
		{
			name: "password: metadata first", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q", "password": "from-md", "passwordFromEnv": "PW"},
			auth:  map[string]string{"password": "from-auth"},
			env:   map[string]string{"PW": "from-env"},
			check: func(t *testing.T, c Config) { want(t, "password", c.password, "from-md") },
		},
		{
			name: "password: env before authParams", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q", "passwordFromEnv": "PW"},
			auth:  map[string]string{"password": "from-auth"},
			env:   map[string]string{"PW": "from-env"},
			check: func(t *testing.T, c Config) { want(t, "password", c.password, "from-env") },
		},
		{
			name: "password: authParams last", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q", "passwordFromEnv": "MISSING"},
			auth:  map[string]string{"password": "from-auth"},
			check: func(t *testing.T, c Config) { want(t, "password", c.password, "from-auth") },
		},
		{
			name: "username: env before authParams", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q", "usernameFromEnv": "U"},
			auth:  map[string]string{"username": "from-auth"},
			env:   map[string]string{"U": "from-env"},
			check: func(t *testing.T, c Config) { want(t, "Username", c.Username, "from-env") },
		},
		{
			name: "address: authParams before env", typ: TypeRedis,
			md:    map[string]string{"listName": "q", "addressFromEnv": "ADDR"},
			auth:  map[string]string{"address": "auth:1"},
			env:   map[string]string{"ADDR": "env:1"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"auth:1"}) },
		},
		{
			name: "address from env", typ: TypeRedis,
			md:    map[string]string{"listName": "q", "addressFromEnv": "ADDR"},
			env:   map[string]string{"ADDR": " env:1 "},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"env:1"}) },
		},
		{
			name: "host and port from env before authParams", typ: TypeRedis,
			md:    map[string]string{"listName": "q", "hostFromEnv": "H", "portFromEnv": "P"},
			auth:  map[string]string{"host": "auth", "port": "2"},
			env:   map[string]string{"H": "env", "P": "1"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"env:1"}) },
		},
		{
			name: "host and port from authParams", typ: TypeRedis,
			md:    map[string]string{"listName": "q"},
			auth:  map[string]string{"host": "auth", "port": "2"},
			check: func(t *testing.T, c Config) { want(t, "Addresses", c.Addresses, []string{"auth:2"}) },
		},
		{
			name: "sentinel fields: authParams before env", typ: TypeRedisSentinel,
			md:   map[string]string{"addresses": "s:1", "listName": "q", "sentinelMasterFromEnv": "M", "sentinelPasswordFromEnv": "SP"},
			auth: map[string]string{"sentinelMaster": "auth-master", "sentinelPassword": "auth-sp"},
			env:  map[string]string{"M": "env-master", "SP": "env-sp"},
			check: func(t *testing.T, c Config) {
				want(t, "SentinelMaster", c.SentinelMaster, "auth-master")
				want(t, "sentinelPassword", c.sentinelPassword, "auth-sp")
			},
		},
		{
			name: "sentinel master from env", typ: TypeRedisSentinel,
			md:    map[string]string{"addresses": "s:1", "listName": "q", "sentinelMasterFromEnv": "M"},
			env:   map[string]string{"M": "env-master"},
			check: func(t *testing.T, c Config) { want(t, "SentinelMaster", c.SentinelMaster, "env-master") },
		},
		{
			name: "tls from TriggerAuthentication", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q"},
			auth:  map[string]string{"tls": "enable"},
			check: func(t *testing.T, c Config) { want(t, "EnableTLS", c.EnableTLS, true) },
		},
		{
			name: "tls disable", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q"},
			auth:  map[string]string{"tls": "disable"},
			check: func(t *testing.T, c Config) { want(t, "EnableTLS", c.EnableTLS, false) },
		},
		{
			name: "negative activation, as KEDA allows", typ: TypeRedis,
			md:    map[string]string{"address": "r:1", "listName": "q", "activationListLength": "-1"},
			check: func(t *testing.T, c Config) { want(t, "ActivationListLength", c.ActivationListLength, int64(-1)) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := trigger(tt.typ, tt.md, tt.auth, tt.env)
			c, err := ParseConfig(tr)
			if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			tt.check(t, c)
			if tt.metricName != "" {
				want(t, "MetricName", c.Spec(0).MetricName, tt.metricName)
			}
		})
	}
}

func TestParseConfigStreams(t *testing.T) {
	base := map[string]string{"address": "r:1", "stream": "orders"}
	tests := []struct {
		name   string
		typ    string
		md     map[string]string
		mode   StreamMode
		target int64
		act    int64
	}{
		{"no group: XLEN, default streamLength", TypeRedisStreams, nil, StreamLength, 5, 0},
		{"no group: streamLength", TypeRedisStreams, map[string]string{"streamLength": "9", "activationLagCount": "2"}, StreamLength, 9, 2},
		{"group: XPENDING, default", TypeRedisStreams, map[string]string{"consumerGroup": "g"}, PendingEntries, 5, 0},
		{"group: pendingEntriesCount", TypeRedisStreams, map[string]string{"consumerGroup": "g", "pendingEntriesCount": "7"}, PendingEntries, 7, 0},
		{"group and lagCount: lag", TypeRedisClusterStreams, map[string]string{"consumerGroup": "g", "lagCount": "11", "activationLagCount": "1"}, Lag, 11, 1},
		{"lagCount 0 is no lagCount, as KEDA reads it", TypeRedisSentinelStreams, map[string]string{"consumerGroup": "g", "lagCount": "0", "sentinelMaster": "m"}, PendingEntries, 5, 0},
		{"lagCount without a group: XLEN", TypeRedisStreams, map[string]string{"lagCount": "3"}, StreamLength, 5, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			md := maps.Clone(base)
			maps.Copy(md, tt.md)
			c, err := ParseConfig(trigger(tt.typ, md, nil, nil))
			if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			want(t, "Mode", c.Mode, tt.mode)
			want(t, "Target", c.Target, tt.target)
			spec := c.Spec(3)
			want(t, "Spec", spec, sources.Spec{MetricName: "s3-redis-streams-orders", Target: float64(tt.target), Activation: float64(tt.act)})
		})
	}
}

func TestMetricNames(t *testing.T) {
	for _, tt := range []struct{ typ, key, name, want string }{
		{TypeRedis, "listName", "mylist", "s0-redis-mylist"},
		{TypeRedis, "listName", "a/b.c:d%e(f)g_h i", "s0-redis-a-b-c-d-e-f-g_h i"},
		{TypeRedisCluster, "listName", "Jobs", "s0-redis-Jobs"},
		{TypeRedisStreams, "stream", "my.stream", "s0-redis-streams-my-stream"},
		{TypeRedisClusterStreams, "stream", "{s}:x", "s0-redis-streams-{s}-x"},
	} {
		c, err := ParseConfig(trigger(tt.typ, map[string]string{"addresses": "r:1", tt.key: tt.name}, nil, nil))
		if err != nil {
			t.Fatalf("%s %q: %v", tt.typ, tt.name, err)
		}
		want(t, tt.typ+" "+tt.name, c.Spec(0).MetricName, tt.want)
	}
}

func TestParseConfigErrors(t *testing.T) {
	secretAuth := map[string]string{"password": testPassword, "sentinelPassword": testSentinelPassword}
	secretEnv := map[string]string{"PW": testPassword}
	tests := []struct {
		name string
		typ  string
		md   map[string]string
		auth map[string]string
		env  map[string]string
		want string
	}{
		{"unknown type", "redis-foo", map[string]string{"address": "r:1", "listName": "q"}, nil, nil, `trigger type "redis-foo"`},
		{"no address", TypeRedis, map[string]string{"listName": "q"}, nil, nil, "redis: address: required"},
		{"host without port", TypeRedis, map[string]string{"host": "h", "listName": "q"}, nil, nil, "redis: address: required"},
		{"bad address", TypeRedis, map[string]string{"address": "nohost", "listName": "q"}, nil, nil, `redis: address "nohost": must be host:port`},
		{"bad port", TypeRedis, map[string]string{"address": "h:99999", "listName": "q"}, nil, nil, `redis: address "h:99999": must be host:port`},
		{"bad address from TriggerAuthentication shows no value", TypeRedis, map[string]string{"listName": "q"},
			map[string]string{"address": "secret-host"}, nil, "redis: address (from TriggerAuthentication): must be host:port"},
		{"hosts and ports differ", TypeRedisCluster, map[string]string{"hosts": "a,b", "ports": "1", "listName": "q"}, nil, nil,
			"redis: hosts and ports: 2 hosts but 1 ports"},
		{"no listName", TypeRedis, map[string]string{"address": "r:1"}, nil, nil, "redis: listName: required"},
		{"listLength abc", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "listLength": "abc"}, nil, nil,
			`redis: listLength "abc": must be a positive whole number`},
		{"listLength 0", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "listLength": "0"}, nil, nil,
			`redis: listLength "0": must be a positive whole number`},
		{"listLength fraction", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "listLength": "2.5"}, nil, nil,
			`redis: listLength "2.5": must be a positive whole number`},
		{"activationListLength", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "activationListLength": "x"}, nil, nil,
			`redis: activationListLength "x": must be a whole number`},
		{"databaseIndex", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "databaseIndex": "-1"}, nil, nil,
			`redis: databaseIndex "-1": must be a whole number ≥ 0`},
		{"enableTLS", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "enableTLS": "yes"}, nil, nil,
			`redis: enableTLS "yes": must be true or false`},
		{"enableTLS and tls", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "enableTLS": "true"},
			map[string]string{"tls": "enable"}, nil, "redis: enableTLS and tls:"},
		{"tls", TypeRedis, map[string]string{"address": "r:1", "listName": "q"}, map[string]string{"tls": "on"}, nil,
			"redis: tls (from TriggerAuthentication): must be enable or disable"},
		{"unsafeSsl", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "unsafeSsl": "maybe"}, nil, nil,
			`redis: unsafeSsl "maybe": must be true or false`},
		{"ca", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "enableTLS": "true"}, map[string]string{"ca": "not a pem"}, nil,
			"redis: ca (from TriggerAuthentication): no PEM certificate found"},
		{"cert without key", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "enableTLS": "true"}, map[string]string{"cert": "x"}, nil,
			"redis: key (from TriggerAuthentication): required with cert"},
		{"bad cert and key", TypeRedis, map[string]string{"address": "r:1", "listName": "q", "enableTLS": "true"},
			map[string]string{"cert": "x", "key": "y"}, nil, "redis: cert and key (from TriggerAuthentication): not a matching PEM certificate and private key"},
		{"no sentinelMaster", TypeRedisSentinel, map[string]string{"addresses": "s:1", "listName": "q"}, nil, nil,
			"redis: sentinelMaster: required for redis-sentinel"},
		{"no stream", TypeRedisStreams, map[string]string{"address": "r:1"}, nil, nil, "redis: stream: required"},
		{"streamLength", TypeRedisStreams, map[string]string{"address": "r:1", "stream": "s", "streamLength": "-3"}, nil, nil,
			`redis: streamLength "-3": must be a positive whole number`},
		{"pendingEntriesCount", TypeRedisStreams, map[string]string{"address": "r:1", "stream": "s", "pendingEntriesCount": "x"}, nil, nil,
			`redis: pendingEntriesCount "x": must be a positive whole number`},
		{"lagCount", TypeRedisStreams, map[string]string{"address": "r:1", "stream": "s", "consumerGroup": "g", "lagCount": "-2"}, nil, nil,
			`redis: lagCount "-2": must be a positive whole number`},
		{"activationLagCount", TypeRedisStreams, map[string]string{"address": "r:1", "stream": "s", "activationLagCount": "1.5"}, nil, nil,
			`redis: activationLagCount "1.5": must be a whole number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth := maps.Clone(secretAuth)
			maps.Copy(auth, tt.auth)
			md := maps.Clone(tt.md)
			md["passwordFromEnv"] = "PW"
			_, err := ParseConfig(trigger(tt.typ, md, auth, secretEnv))
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			for _, s := range []string{testPassword, testSentinelPassword, "secret-host"} {
				if strings.Contains(err.Error(), s) {
					t.Errorf("error %q shows a secret", err)
				}
			}
		})
	}
}

func TestConfigStringHidesSecrets(t *testing.T) {
	c, err := ParseConfig(trigger(TypeRedisSentinel, map[string]string{"addresses": "s:1", "listName": "q", "sentinelMaster": "m"},
		map[string]string{"password": testPassword, "sentinelPassword": testSentinelPassword}, nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{c.String(), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, testPassword) || strings.Contains(s, testSentinelPassword) {
			t.Errorf("config printed with a secret: %s", s)
		}
	}
}

func want[T any](t *testing.T, what string, got, wantV T) {
	t.Helper()
	if !reflect.DeepEqual(got, wantV) {
		t.Errorf("%s = %v, want %v", what, got, wantV)
	}
}
