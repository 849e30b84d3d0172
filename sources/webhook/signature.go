package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// The signature schemes of a signature header's value.
//
//	sha256=<hex>  HMAC-SHA256 of the body, or of "<timestamp>.<body>" when
//	              the request carries TimestampHeader: GitHub's scheme,
//	              unchanged (X-Hub-Signature-256 keeps GitHub's meaning).
//	v2=<hex>      HMAC-SHA256 of "<timestamp>.<METHOD>.<path>.<body>",
//	              TimestampHeader required: pushscale's own, which binds the
//	              request to its method and path too, so that a signature
//	              made for one stream or for a GET cannot be replayed on
//	              another stream or as a POST.
//
// <path> is the request path as sent (escaped, without the query), e.g.
// /v1/namespaces/ns/streams/jobs.
const (
	signaturePrefix   = "sha256="
	signatureV2Prefix = "v2="
)

// sigScheme is a signature header's scheme.
type sigScheme uint8

const (
	schemeSHA256 sigScheme = iota + 1
	schemeV2
)

// parseSignature parses a signature header value: a scheme prefix (in any
// case) and exactly 64 hex digits. It never panics: any other length,
// prefix or digit is refused before anything is decoded.
func parseSignature(v string) (scheme sigScheme, mac [sha256.Size]byte, ok bool) {
	var hexMAC string
	switch {
	case len(v) == len(signaturePrefix)+2*sha256.Size && strings.EqualFold(v[:len(signaturePrefix)], signaturePrefix):
		scheme, hexMAC = schemeSHA256, v[len(signaturePrefix):]
	case len(v) == len(signatureV2Prefix)+2*sha256.Size && strings.EqualFold(v[:len(signatureV2Prefix)], signatureV2Prefix):
		scheme, hexMAC = schemeV2, v[len(signatureV2Prefix):]
	default:
		return 0, mac, false
	}
	if _, err := hex.Decode(mac[:], []byte(hexMAC)); err != nil {
		return 0, mac, false
	}
	return scheme, mac, true
}

// parseTimestamp parses a TimestampHeader value: unix seconds in decimal
// digits (at most 12), within MaxClockSkew of now.
func parseTimestamp(v string, now time.Time) (int64, *authError) {
	if len(v) == 0 || len(v) > 12 || strings.Trim(v, "0123456789") != "" {
		return 0, &authError{msg: TimestampHeader + " must be unix seconds"}
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, &authError{msg: TimestampHeader + " must be unix seconds"}
	}
	if skew := now.Sub(time.Unix(sec, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return 0, &authError{msg: TimestampHeader + " is more than 5 minutes from now"}
	}
	return sec, nil
}
