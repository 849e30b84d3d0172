package sources_test

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
)

func lookupOf(md, auth, env map[string]string) *sources.Lookup {
	return sources.NewLookup("src", sources.Trigger{Metadata: md, AuthParams: auth, ResolvedEnv: env})
}

func TestLookupOrder(t *testing.T) {
	md := map[string]string{"host": " meta ", "hostFromEnv": "HOST", "portFromEnv": "PORT", "user": ""}
	auth := map[string]string{"host": "auth", "port": "auth-port", "user": "auth-user", "addresses": "a:1"}
	env := map[string]string{"HOST": "env", "PORT": "env-port"}
	for _, tc := range []struct {
		name  string
		order sources.Order
		names []string
		want  string
		ok    bool
	}{
		{"metadata first, trimmed", sources.MetaEnvAuth, []string{"host"}, "meta", true},
		{"env before auth", sources.MetaEnvAuth, []string{"port"}, "env-port", true},
		{"auth before env", sources.MetaAuthEnv, []string{"port"}, "auth-port", true},
		{"empty metadata falls through", sources.MetaEnvAuth, []string{"user"}, "auth-user", true},
		{"metadata only ignores auth", sources.MetadataOnly, []string{"port"}, "", false},
		{"auth only", sources.AuthOnly, []string{"host"}, "auth", true},
		{"aliases tried in each place", sources.MetaAuthEnv, []string{"address", "addresses"}, "a:1", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := lookupOf(md, auth, env).Get(tc.order, tc.names...)
			if got != tc.want || ok != tc.ok {
				t.Errorf("Get = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestFieldRead(t *testing.T) {
	const secret = "s3cr3t-value"
	count := sources.Field[int64]{Name: "count", From: sources.MetaEnvAuth, Default: 5, Parse: sources.PositiveInt}
	name := sources.Field[string]{Name: "name", Required: true}
	mode := sources.Field[string]{Name: "mode", Default: "latest", Parse: sources.OneOf("latest", "earliest")}
	flag := sources.Field[bool]{Name: "flag", Parse: sources.Bool}
	for _, tc := range []struct {
		name      string
		md, auth  map[string]string
		env       map[string]string
		read      func(*sources.Lookup) (any, error)
		want      any
		wantErr   string // the whole error
		hideValue bool   // the error must not show secret
	}{
		{"default when absent", nil, nil, nil, read(count), int64(5), "", false},
		{"parsed", map[string]string{"count": "7"}, nil, nil, read(count), int64(7), "", false},
		{"bad metadata value shown", map[string]string{"count": "-1"}, nil, nil, read(count), nil,
			`src: count "-1": must be a positive whole number`, false},
		{"bad auth value hidden", nil, map[string]string{"count": secret}, nil, read(count), nil,
			`src: count (from TriggerAuthentication): must be a positive whole number`, true},
		{"bad env value hidden", map[string]string{"countFromEnv": "C"}, nil, map[string]string{"C": secret}, read(count), nil,
			`src: count (from the environment): must be a positive whole number`, true},
		{"required", nil, nil, nil, read(name), nil, "src: name: required", false},
		{"string taken as is", map[string]string{"name": "q"}, nil, nil, read(name), "q", "", false},
		{"one of", map[string]string{"mode": "earliest"}, nil, nil, read(mode), "earliest", "", false},
		{"not one of", map[string]string{"mode": "middle"}, nil, nil, read(mode), nil,
			`src: mode "middle": must be one of latest, earliest`, false},
		{"bool", map[string]string{"flag": "true"}, nil, nil, read(flag), true, "", false},
		{"long values cut", map[string]string{"count": strings.Repeat("x", 100)}, nil, nil, read(count), nil,
			`src: count "` + strings.Repeat("x", 80) + `…": must be a positive whole number`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read(lookupOf(tc.md, tc.auth, tc.env))
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error = %v, want %s", err, tc.wantErr)
				}
				if tc.hideValue && strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Read = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func read[T any](f sources.Field[T]) func(*sources.Lookup) (any, error) {
	return func(l *sources.Lookup) (any, error) { return f.Read(l) }
}

func TestInvalidValueNamesWhereItCameFrom(t *testing.T) {
	l := lookupOf(nil, map[string]string{"address": "secret-host"}, nil)
	l.Get(sources.MetaAuthEnv, "address")
	err := l.InvalidValue("address", "secret-host", "must be host:port")
	if strings.Contains(err.Error(), "secret-host") || !strings.Contains(err.Error(), "from TriggerAuthentication") {
		t.Errorf("InvalidValue = %v", err)
	}
}

// ReadInto keeps the first error and reads nothing after it.
func TestReadIntoKeepsFirstError(t *testing.T) {
	l := lookupOf(map[string]string{"a": "1", "b": "x", "c": "3"}, nil, nil)
	var a, b, c, d float64
	sources.Field[float64]{Name: "a", Parse: sources.Number}.ReadInto(l, &a)
	sources.Field[float64]{Name: "b", Parse: sources.Number}.ReadInto(l, &b)
	sources.Field[float64]{Name: "c", Parse: sources.Number}.ReadInto(l, &c)
	sources.Field[float64]{Name: "d", Required: true}.ReadInto(l, &d)
	if a != 1 || b != 0 || c != 0 {
		t.Errorf("a, b, c = %v, %v, %v; want 1, 0, 0", a, b, c)
	}
	if err := l.Err(); err == nil || !strings.Contains(err.Error(), `b "x"`) {
		t.Errorf("Err = %v, want b's", err)
	}
}
