package rabbitmq

import (
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

const (
	testHost     = "amqp://user:hostS3cret@rabbit.example:5672/vhost"
	testPassword = "authS3cretPass"
)

func parse(md, auth, env map[string]string) (Config, error) {
	return ParseConfig(sources.Trigger{Type: Type, Metadata: md, AuthParams: auth, ResolvedEnv: env})
}

// TestParseConfigKEDARules is KEDA's rabbitmq metadata rules, case by case.
func TestParseConfigKEDARules(t *testing.T) {
	env := map[string]string{"RABBIT_HOST": testHost}
	cases := []struct {
		name     string
		md, auth map[string]string
		wantErr  string // a part of the error; "" for none
		check    func(t *testing.T, c Config)
	}{
		{name: "nothing", md: map[string]string{}, wantErr: "host: required"},
		{name: "host from env, defaults", md: map[string]string{"queueName": "sample", "hostFromEnv": "RABBIT_HOST"},
			check: func(t *testing.T, c Config) {
				if c.Mode != ModeQueueLength || c.Value != DefaultValue || c.Protocol != ProtocolAMQP || c.PageSize != 100 || c.Operation != "sum" || c.ActivationValue != 0 {
					t.Errorf("defaults = %v", c)
				}
			}},
		{name: "legacy queueLength", md: map[string]string{"queueLength": "10", "queueName": "sample", "hostFromEnv": "RABBIT_HOST"},
			check: func(t *testing.T, c Config) {
				if c.Mode != ModeQueueLength || c.Value != 10 {
					t.Errorf("mode, value = %s, %g", c.Mode, c.Value)
				}
			}},
		{name: "malformed queueLength", md: map[string]string{"queueLength": "AA", "queueName": "sample", "hostFromEnv": "RABBIT_HOST"}, wantErr: `queueLength "AA": must be a number`},
		{name: "missing queueName", md: map[string]string{"queueLength": "10", "hostFromEnv": "RABBIT_HOST"}, wantErr: "queueName: required"},
		{name: "host in authParams", md: map[string]string{"queueName": "q"}, auth: map[string]string{"host": testHost},
			check: func(t *testing.T, c Config) {
				if c.amqpURI().Host != "rabbit.example" {
					t.Errorf("host = %v", c.amqpURI())
				}
			}},
		{name: "metadata host before authParams", md: map[string]string{"queueName": "q", "host": "http://m.example/"}, auth: map[string]string{"host": testHost},
			check: func(t *testing.T, c Config) {
				if c.Protocol != ProtocolHTTP {
					t.Errorf("protocol = %s", c.Protocol)
				}
			}},
		{name: "protocol http forced", md: map[string]string{"queueName": "q", "host": "http://m/", "protocol": "http"}},
		{name: "protocol from authParams", md: map[string]string{"queueName": "q", "host": "http://m/"}, auth: map[string]string{"protocol": "http"}},
		{name: "protocol bad", md: map[string]string{"queueName": "q", "host": "http://m/", "protocol": "smtp"}, wantErr: `protocol "smtp": must be one of auto, amqp, http`},
		{name: "protocol against scheme", md: map[string]string{"queueName": "q", "host": "http://m/", "protocol": "amqp"}, wantErr: "scheme must match protocol amqp"},
		{name: "auto and unknown scheme", md: map[string]string{"queueName": "q", "host": "something://x"}, wantErr: `unknown scheme "something"`},
		{name: "auto https", md: map[string]string{"queueName": "q", "host": "https://m/"}},
		{name: "queue with slashes", md: map[string]string{"queueName": "namespace/name", "host": "amqp://h/"},
			check: func(t *testing.T, c Config) {
				if got := c.Spec(1).MetricName; got != "s1-rabbitmq-namespace-2Fname" {
					t.Errorf("metric name = %s", got)
				}
			}},
		{name: "metric name", md: map[string]string{"queueName": "sample", "host": "amqp://h/"},
			check: func(t *testing.T, c Config) {
				if got := c.Spec(0).MetricName; got != "s0-rabbitmq-sample" {
					t.Errorf("metric name = %s", got)
				}
			}},
		{name: "vhostName overrides", md: map[string]string{"queueName": "q", "host": "amqp://h/other", "vhostName": "myVhost"},
			check: func(t *testing.T, c Config) {
				if c.amqpURI().Vhost != "myVhost" {
					t.Errorf("vhost = %q", c.amqpURI().Vhost)
				}
			}},
		{name: "queueLength and mode", md: map[string]string{"queueLength": "10", "mode": "QueueLength", "queueName": "q", "host": "https://h"}, wantErr: "queueLength: deprecated"},
		{name: "queueLength and value", md: map[string]string{"queueLength": "10", "value": "20", "queueName": "q", "host": "https://h"}, wantErr: "queueLength: deprecated"},
		{name: "only mode", md: map[string]string{"mode": "QueueLength", "queueName": "q", "host": "https://h"}, wantErr: "value: required"},
		{name: "only value", md: map[string]string{"value": "20", "queueName": "q", "host": "https://h"}, wantErr: "mode: required"},
		{name: "mode and value", md: map[string]string{"mode": "QueueLength", "value": "20", "queueName": "q", "host": "https://h"}},
		{name: "invalid mode", md: map[string]string{"mode": "Feelings", "value": "20", "queueName": "q", "host": "https://h"}, wantErr: `mode "Feelings": must be one of`},
		{name: "invalid value", md: map[string]string{"mode": "QueueLength", "value": "lots", "queueName": "q", "host": "https://h"}, wantErr: `value "lots": must be a number`},
		{name: "queue length amqps", md: map[string]string{"mode": "QueueLength", "value": "20", "queueName": "q", "host": "amqps://h"}},
		{name: "MessageRate amqp", md: map[string]string{"mode": "MessageRate", "value": "1000", "queueName": "q", "host": "amqp://h"}, wantErr: "mode MessageRate: needs protocol http"},
		{name: "DeliverGetRate amqps", md: map[string]string{"mode": "DeliverGetRate", "value": "1000", "queueName": "q", "host": "amqps://h"}, wantErr: "needs protocol http"},
		{name: "ratio amqp", md: map[string]string{"mode": "PublishedToDeliveredRatio", "value": "2", "queueName": "q", "host": "amqp://h"}, wantErr: "needs protocol http"},
		{name: "consumption time amqp", md: map[string]string{"mode": "ExpectedQueueConsumptionTime", "value": "2", "queueName": "q", "host": "amqp://h"}, wantErr: "needs protocol http"},
		{name: "MessageRate http", md: map[string]string{"mode": "MessageRate", "value": "1000", "queueName": "q", "host": "http://h"}},
		{name: "useRegex amqp", md: map[string]string{"queueName": "q", "host": "amqps://h", "useRegex": "true"}, wantErr: "useRegex: true needs protocol http"},
		{name: "useRegex http", md: map[string]string{"queueName": "q", "host": "http://h", "useRegex": "true"}},
		{name: "timeout ms", md: map[string]string{"queueName": "q", "host": "http://h", "timeout": "1000"},
			check: func(t *testing.T, c Config) {
				if c.Timeout != time.Second {
					t.Errorf("timeout = %s", c.Timeout)
				}
			}},
		{name: "timeout duration", md: map[string]string{"queueName": "q", "host": "http://h", "timeout": "2s"}},
		{name: "timeout negative", md: map[string]string{"queueName": "q", "host": "http://h", "timeout": "-10"}, wantErr: `timeout "-10"`},
		{name: "timeout wrong", md: map[string]string{"queueName": "q", "host": "http://h", "timeout": "error"}, wantErr: `timeout "error"`},
		{name: "timeout amqp", md: map[string]string{"queueName": "q", "host": "amqp://h", "timeout": "10"}, wantErr: "timeout: not supported with protocol amqp"},
		{name: "pageSize", md: map[string]string{"queueName": "q", "host": "http://h", "useRegex": "true", "pageSize": "10"}},
		{name: "pageSize below 1", md: map[string]string{"queueName": "q", "host": "http://h", "useRegex": "true", "pageSize": "-1"}, wantErr: `pageSize "-1": must be a positive whole number`},
		{name: "pageSize not a number", md: map[string]string{"queueName": "q", "host": "http://h", "pageSize": "a"}, wantErr: `pageSize "a"`},
		{name: "operation bad", md: map[string]string{"queueName": "q", "host": "http://h", "useRegex": "true", "operation": "median"}, wantErr: `operation "median": must be one of sum, avg, max`},
		{name: "activationValue", md: map[string]string{"activationValue": "10", "queueLength": "20", "queueName": "q", "host": "amqp://h"},
			check: func(t *testing.T, c Config) {
				if s := c.Spec(0); s.Activation != 10 || s.Target != 20 {
					t.Errorf("spec = %+v", s)
				}
			}},
		{name: "activationValue malformed", md: map[string]string{"activationValue": "AA", "queueLength": "10", "queueName": "q", "host": "amqp://h"}, wantErr: `activationValue "AA"`},
		{name: "excludeUnacknowledged http", md: map[string]string{"queueName": "q", "host": "http://h", "excludeUnacknowledged": "true"}},
		{name: "excludeUnacknowledged amqp", md: map[string]string{"queueName": "q", "host": "amqp://h", "excludeUnacknowledged": "true"}, wantErr: "excludeUnacknowledged: true needs protocol http"},
		{name: "unsafeSsl", md: map[string]string{"queueName": "q", "host": "https://h", "unsafeSsl": "true"}},
		{name: "unsafeSsl wrong", md: map[string]string{"queueName": "q", "host": "https://h", "unsafeSsl": "random"}, wantErr: `unsafeSsl "random": must be true or false`},
		{name: "tls full", md: map[string]string{"queueName": "q", "host": "amqps://h"}, auth: map[string]string{"tls": "enable", "ca": "caaa", "cert": "ceert", "key": "keey"}},
		{name: "tls ca only", md: map[string]string{"queueName": "q", "host": "amqps://h"}, auth: map[string]string{"tls": "enable", "ca": "caaa"}},
		{name: "tls missing cert", md: map[string]string{"queueName": "q", "host": "amqps://h"}, auth: map[string]string{"tls": "enable", "key": "keey"}, wantErr: "cert and key (from TriggerAuthentication): give both"},
		{name: "tls bad", md: map[string]string{"queueName": "q", "host": "amqps://h"}, auth: map[string]string{"tls": "yes"}, wantErr: "tls (from TriggerAuthentication): must be one of enable, disable"},
		{name: "username without password", md: map[string]string{"queueName": "q", "host": "amqp://h"}, auth: map[string]string{"username": "u"}, wantErr: "username and password"},
		{name: "credentials override the host's", md: map[string]string{"queueName": "q", "host": testHost}, auth: map[string]string{"username": "u", "password": testPassword},
			check: func(t *testing.T, c Config) {
				if u := c.amqpURI(); u.Username != "u" || u.Password != testPassword {
					t.Errorf("credentials not taken from the TriggerAuthentication")
				}
			}},
		{name: "shadowBindings", md: map[string]string{"queueName": "q", "host": "amqp://h", "shadowBindings": "jobs:new, amq.topic:a.*"},
			check: func(t *testing.T, c Config) {
				if len(c.ShadowBindings) != 2 || c.ShadowBindings[1].String() != "amq.topic:a.*" {
					t.Errorf("shadowBindings = %v", c.ShadowBindings)
				}
			}},
		{name: "shadowBindings default exchange", md: map[string]string{"queueName": "q", "host": "amqp://h", "shadowBindings": ":q"}, wantErr: `shadowBindings ":q"`},
		{name: "shadowBindings no colon", md: map[string]string{"queueName": "q", "host": "amqp://h", "shadowBindings": "jobs"}, wantErr: `shadowBindings "jobs"`},
		{name: "managementHost", md: map[string]string{"queueName": "q", "host": "amqp://h", "managementHost": "http://m:15672"}},
		{name: "managementHost credentials", md: map[string]string{"queueName": "q", "host": "amqp://h", "managementHost": "http://u:p@m:15672"}, wantErr: "managementHost: must not hold credentials"},
		{name: "managementHost scheme", md: map[string]string{"queueName": "q", "host": "amqp://h", "managementHost": "ftp://m"}, wantErr: `managementHost "ftp://m"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(tc.md, tc.auth, env)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ParseConfig = %v", err)
			case tc.wantErr != "" && err == nil:
				t.Fatalf("ParseConfig = %v, want an error with %q", c, tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Fatalf("ParseConfig = %v, want an error with %q", err, tc.wantErr)
			}
			if err != nil {
				for _, s := range []string{"hostS3cret", testPassword, "keey", "ceert", "caaa"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error shows a secret: %v", err)
					}
				}
				return
			}
			if tc.check != nil {
				tc.check(t, c)
			}
		})
	}
}

// TestHostPasswordNeverShown: a password in the host URL appears in no
// error, no String and no endpoint id.
func TestHostPasswordNeverShown(t *testing.T) {
	for _, host := range []string{"amqp://user:hostS3cret@h:5672/v", "http://user:hostS3cret@h:15672/v", "bogus://user:hostS3cret@h", "amqp://user:hostS3cret@h:99999999/"} {
		c, err := parse(map[string]string{"queueName": "q", "host": host, "mode": "Feelings", "value": "1"}, nil, nil)
		if err == nil || strings.Contains(err.Error(), "hostS3cret") {
			t.Errorf("%s: error %v", host, err)
		}
		c, err = parse(map[string]string{"queueName": "q", "host": host}, nil, nil)
		if err != nil {
			if strings.Contains(err.Error(), "hostS3cret") {
				t.Errorf("error shows the password: %v", err)
			}
			continue
		}
		src := New(sourcetest.NewDeps(t, sourcetest.NewSink()), Options{})
		b := src.binding(sources.Trigger{}, c)
		for _, s := range []string{c.String(), c.GoString(), b.Endpoint, b.Resource} {
			if strings.Contains(s, "hostS3cret") {
				t.Errorf("%q shows the password", s)
			}
		}
	}
}

// TestManagementBase is KEDA's split of an http host into the API's base,
// the path prefix and the vhost.
func TestManagementBase(t *testing.T) {
	cases := []struct{ host, vhostName, base, vhost string }{
		{"http://h:15672", "", "http://h:15672", "%2F"},
		{"http://h:15672/", "", "http://h:15672", "%2F"},
		{"http://h:15672/myvhost", "", "http://h:15672", "myvhost"},
		{"http://h:15672/prefix/myvhost", "", "http://h:15672/prefix", "myvhost"},
		{"http://h:15672/%2F", "", "http://h:15672", "%2F"},
		{"http://h:15672/v", "other/v", "http://h:15672", "other%2Fv"},
		{"amqp://h:5672/v", "", "http://h:15672", "v"},
		{"amqps://h/", "", "https://h:15671", "%2F"},
	}
	for _, tc := range cases {
		c, err := parse(map[string]string{"queueName": "q", "host": tc.host, "vhostName": tc.vhostName}, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		base, vhost := c.managementBase()
		if base.String() != tc.base || vhost != tc.vhost {
			t.Errorf("%s vhostName %q: base, vhost = %s, %s; want %s, %s", tc.host, tc.vhostName, base, vhost, tc.base, tc.vhost)
		}
	}
}

// TestModeValue is KEDA's value of each mode.
func TestModeValue(t *testing.T) {
	q := func(messages, ready, pub, del float64) queueInfo {
		var i queueInfo
		i.Messages, i.MessagesReady, i.Stats.Publish.Rate, i.Stats.DeliverGet.Rate = messages, ready, pub, del
		return i
	}
	cases := []struct {
		name    string
		mode    string
		exclude bool
		act     float64
		q       queueInfo
		want    float64
	}{
		{"length counts unacked", ModeQueueLength, false, 0, q(5, 3, 0, 0), 5},
		{"length ready only", ModeQueueLength, true, 0, q(5, 3, 0, 0), 3},
		{"message rate", ModeMessageRate, false, 0, q(5, 3, 2.5, 1), 2.5},
		{"deliver rate", ModeDeliverGetRate, false, 0, q(5, 3, 2.5, 1), 1},
		{"ratio", ModePublishedToDeliveredRatio, false, 0, q(0, 0, 4, 2), 2},
		{"ratio nothing delivered", ModePublishedToDeliveredRatio, false, 7, q(0, 0, 4, 0), 7},
		{"ratio nothing published", ModePublishedToDeliveredRatio, false, 7, q(0, 0, 0, 3), 0},
		{"eta", ModeExpectedQueueConsumptionTime, false, 0, q(10, 10, 3, 2), 0.5 + 5},
		{"eta empty", ModeExpectedQueueConsumptionTime, false, 4, q(0, 0, 3, 2), 0},
		{"eta nothing delivered", ModeExpectedQueueConsumptionTime, false, 4, q(10, 10, 3, 0), 4},
	}
	for _, tc := range cases {
		c := Config{Mode: tc.mode, ExcludeUnacknowledged: tc.exclude, ActivationValue: tc.act}
		if got := modeValue(c, tc.q); got != tc.want {
			t.Errorf("%s: %g, want %g", tc.name, got, tc.want)
		}
	}
}

// TestModeActivity is KEDA's activity of the modes that decide it on more
// than the value.
func TestModeActivity(t *testing.T) {
	q := func(messages, pub, del float64) queueInfo {
		var i queueInfo
		i.Messages, i.MessagesReady, i.Stats.Publish.Rate, i.Stats.DeliverGet.Rate = messages, messages, pub, del
		return i
	}
	cases := []struct {
		name            string
		mode            string
		act             float64
		q               queueInfo
		active, decided bool
	}{
		{"length: by the value", ModeQueueLength, 0, q(3, 0, 0), false, false},
		{"deliver rate: by the value", ModeDeliverGetRate, 0, q(3, 0, 1), false, false},
		{"message rate: rate 0, backlog above activation", ModeMessageRate, 2, q(3, 0, 0), true, true},
		{"message rate: rate 0, backlog at activation", ModeMessageRate, 3, q(3, 0, 0), false, true},
		{"message rate: rate above activation", ModeMessageRate, 2, q(0, 5, 0), true, true},
		{"ratio: published, nothing delivered", ModePublishedToDeliveredRatio, 10, q(0, 1, 0), true, true},
		{"ratio: below activation", ModePublishedToDeliveredRatio, 10, q(0, 2, 1), false, true},
		{"eta: waiting, nothing delivered", ModeExpectedQueueConsumptionTime, 100, q(1, 0, 0), true, true},
		{"eta: empty", ModeExpectedQueueConsumptionTime, 0, q(0, 1, 1), false, true},
	}
	for _, tc := range cases {
		c := Config{Mode: tc.mode, ActivationValue: tc.act}
		active, decided := modeActivity(c, tc.q, modeValue(c, tc.q))
		if active != tc.active || decided != tc.decided {
			t.Errorf("%s: active, decided = %t, %t; want %t, %t", tc.name, active, decided, tc.active, tc.decided)
		}
	}
}

// TestCombine is KEDA's sum, avg and max over the queues a regex matched.
func TestCombine(t *testing.T) {
	var a, b queueInfo
	a.Messages, a.MessagesReady, a.Stats.Publish.Rate = 4, 3, 1
	b.Messages, b.MessagesReady, b.Stats.Publish.Rate = 1, 0, 2
	for _, tc := range []struct {
		op            string
		messages, pub float64
	}{{"sum", 5, 3}, {"avg", 2, 1.5}, {"max", 4, 2}} {
		got := combine([]queueInfo{a, b}, tc.op)
		if got.Messages != tc.messages || got.publishRate() != tc.pub {
			t.Errorf("%s: messages %g rate %g; want %g %g", tc.op, got.Messages, got.publishRate(), tc.messages, tc.pub)
		}
	}
	if got := combine(nil, "sum"); got.Messages != 0 {
		t.Errorf("no queue: %g", got.Messages)
	}
}
