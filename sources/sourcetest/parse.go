package sourcetest

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
)

// ParseCase is one case of a table test of a source's config parser: a
// trigger's metadata, TriggerAuthentication parameters and environment,
// and either the error wanted or a check of the config.
type ParseCase[C any] struct {
	Name          string
	MD, Auth, Env map[string]string
	// Check looks at the config when WantErr is empty.
	Check func(t *testing.T, c C)
	// WantErr is text the error must contain.
	WantErr string
}

// TestParse runs each case as a subtest: parse reads a trigger of type
// typ; an error must contain the case's WantErr (and must never show
// secret), and a case without WantErr must parse and pass its Check.
func TestParse[C any](t *testing.T, parse func(sources.Trigger) (C, error), typ, secret string, cases []ParseCase[C]) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			c, err := parse(sources.Trigger{Type: typ, Metadata: tc.MD, AuthParams: tc.Auth, ResolvedEnv: tc.Env})
			if tc.WantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.WantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.WantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Fatalf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig = %v", err)
			}
			tc.Check(t, c)
		})
	}
}
