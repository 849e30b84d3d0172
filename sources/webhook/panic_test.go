package webhook

import (
	"net/http"
	"strings"
	"testing"
)

// TestNoPanicOnLongSignature is issue 10 item 3: a sha256= signature longer
// than 64 hex digits once indexed past a 32-byte buffer.
func TestNoPanicOnLongSignature(t *testing.T) {
	for _, sig := range []string{
		"sha256=" + strings.Repeat("ab", 33),
		"sha256=" + strings.Repeat("0", 200),
		"sha256=" + strings.Repeat("ab", 31),
		"sha256=" + strings.Repeat("ab", 32) + "0",
	} {
		e := newEnv(t, Options{})
		e.watch(trig(keyA, map[string]string{"stream": "s"}, map[string]string{"hmacSecret": testSecret}))
		rr := e.do(req{Path: path("ns", "s"), Header: map[string]string{"Content-Type": jsonCT, "X-Pushscale-Signature": sig}, Body: `{"value":1}`})
		if rr.Code != http.StatusUnauthorized {
			t.Errorf("signature of %d characters: %d %s, want 401", len(sig), rr.Code, rr.Body)
		}
	}
}
