package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// parseSignature parses a signature header value "sha256=<64 hex digits>"
// (the prefix in any case). It never panics: any other length, prefix or
// digit is refused before anything is decoded.
func parseSignature(v string) (mac [sha256.Size]byte, ok bool) {
	if len(v) != len(signaturePrefix)+2*sha256.Size || !strings.EqualFold(v[:len(signaturePrefix)], signaturePrefix) {
		return mac, false
	}
	if _, err := hex.Decode(mac[:], []byte(v[len(signaturePrefix):])); err != nil {
		return mac, false
	}
	return mac, true
}
