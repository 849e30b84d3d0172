package sources

import (
	"strings"
	"testing"
)

// TestClusterAuthTargets: with a ClusterTriggerAuthentication's
// credentials, a target the trigger names itself must match the
// annotation's patterns; one from the ClusterTriggerAuthentication's own
// parameters is trusted; warn allows and reports; off is KEDA's.
func TestClusterAuthTargets(t *testing.T) {
	addr := Field[string]{Name: "address", Aliases: []string{"addresses"}, From: MetaAuthEnv, Target: true}
	patterns := ParseAllowedTargets("redis.shared.svc:6379, *.kafka.svc ,10.0.0.*:70*")
	for _, tc := range []struct {
		name  string
		md    map[string]string
		auth  map[string]string
		env   map[string]string
		check TargetCheck
		ok    bool
	}{
		{"allowed host:port", map[string]string{"address": "redis.shared.svc:6379"}, nil, nil, TargetCheckEnforce, true},
		{"case does not matter", map[string]string{"address": "Redis.Shared.SVC:6379"}, nil, nil, TargetCheckEnforce, true},
		{"other port", map[string]string{"address": "redis.shared.svc:6380"}, nil, nil, TargetCheckEnforce, false},
		{"a tenant's host", map[string]string{"address": "evil.example:6379"}, nil, nil, TargetCheckEnforce, false},
		{"wildcard host, any port", map[string]string{"address": "b1.kafka.svc:9092"}, nil, nil, TargetCheckEnforce, true},
		{"wildcard port", map[string]string{"address": "10.0.0.5:7001"}, nil, nil, TargetCheckEnforce, true},
		{"a list with one bad entry", map[string]string{"addresses": "redis.shared.svc:6379,evil:1"}, nil, nil, TargetCheckEnforce, false},
		{"a URL", map[string]string{"address": "nats://b1.kafka.svc:4222"}, nil, nil, TargetCheckEnforce, true},
		{"a URL to elsewhere", map[string]string{"address": "https://evil.example/x"}, nil, nil, TargetCheckEnforce, false},
		{"a URL with a password", map[string]string{"address": "amqp://user:s3cret@evil.example:5672/vh"}, nil, nil, TargetCheckEnforce, false},
		{"from the environment: the tenant's too", nil, nil, map[string]string{"A": "evil:1"}, TargetCheckEnforce, false},
		{"from the ClusterTriggerAuthentication: trusted", nil, map[string]string{"address": "anywhere:1"}, nil, TargetCheckEnforce, true},
		{"warn allows", map[string]string{"address": "evil:1"}, nil, nil, TargetCheckWarn, true},
		{"off allows", map[string]string{"address": "evil:1"}, nil, nil, TargetCheckOff, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			md := map[string]string{}
			for k, v := range tc.md {
				md[k] = v
			}
			if tc.env != nil {
				md["addressFromEnv"] = "A"
			}
			var warned []string
			tr := Trigger{Metadata: md, AuthParams: tc.auth, ResolvedEnv: tc.env, ClusterAuth: &ClusterAuth{
				Name: "shared", AllowedTargets: patterns, Check: tc.check, Warn: func(m string) { warned = append(warned, m) }}}
			_, err := addr.Read(NewLookup("redis", tr))
			if tc.ok != (err == nil) {
				t.Fatalf("Read: %v, want ok=%v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the URL's password", err)
			}
			if err != nil && (!strings.Contains(err.Error(), "ClusterTriggerAuthentication shared") || !strings.Contains(err.Error(), AllowedTargetsAnnotation)) {
				t.Errorf("error %q does not name the rule", err)
			}
			if tc.check == TargetCheckWarn && len(warned) != 1 {
				t.Errorf("warnings %q, want one", warned)
			}
			// Without a ClusterTriggerAuthentication nothing is checked.
			tr.ClusterAuth = nil
			if _, err := addr.Read(NewLookup("redis", tr)); err != nil {
				t.Errorf("without ClusterAuth: %v", err)
			}
		})
	}
}
