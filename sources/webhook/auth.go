package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"net/http"
	"strings"
	"sync"
	"time"
)

// TimestampHeader, when a request carries it (unix seconds), is signed
// before the rest (see the schemes in signature.go) and must be within
// MaxClockSkew of now; a timestamped signature is accepted once. Without it
// a sha256= signature covers the body alone, as GitHub signs, and nothing
// stops its replay: requireTimestamp makes it mandatory.
const TimestampHeader = "X-Pushscale-Timestamp"

// MaxClockSkew is how far a signed timestamp may be from now.
const MaxClockSkew = 5 * time.Minute

// auth is the authentication of one stream. It is immutable once built and
// safe for concurrent use. It keeps the token only as its SHA-256 sum, and
// prints as "[redacted]".
type auth struct {
	hasToken bool
	tokenSum [sha256.Size]byte
	hmacKey  []byte
	header   string // canonical signature header
	// requireTimestamp refuses signatures without a signed timestamp.
	requireTimestamp bool
	macs             sync.Pool
}

// newAuth returns the authentication for a token and an HMAC secret (each
// empty when unset) with the signature in header.
func newAuth(token, hmacSecret, header string, requireTimestamp bool) *auth {
	a := &auth{header: header, requireTimestamp: requireTimestamp}
	if token != "" {
		a.hasToken = true
		a.tokenSum = sha256.Sum256([]byte(token))
	}
	if hmacSecret != "" {
		a.hmacKey = []byte(hmacSecret)
		key := a.hmacKey
		a.macs.New = func() any { return hmac.New(sha256.New, key) }
	}
	return a
}

func (a *auth) enabled() bool { return a != nil && (a.hasToken || a.hmacKey != nil) }

// presented reports whether h carries every kind of credential a needs
// (not whether they are right).
func (a *auth) presented(h http.Header) bool {
	return (!a.hasToken || h.Get("Authorization") != "") && (a.hmacKey == nil || h.Get(a.header) != "")
}

// String never shows a credential.
func (a *auth) String() string {
	switch {
	case a == nil || !a.enabled():
		return "none"
	case a.hasToken && a.hmacKey != nil:
		return "token+hmac([redacted])"
	case a.hasToken:
		return "token([redacted])"
	default:
		return "hmac([redacted])"
	}
}

// equal reports whether a and b accept the same requests. The signature
// header only matters when there is an HMAC secret.
func (a *auth) equal(b *auth) bool {
	if a.hasToken != b.hasToken || a.tokenSum != b.tokenSum {
		return false
	}
	if !hmac.Equal(a.hmacKey, b.hmacKey) || (a.hmacKey == nil) != (b.hmacKey == nil) {
		return false
	}
	return a.hmacKey == nil || (a.header == b.header && a.requireTimestamp == b.requireTimestamp)
}

// authError is a failed authentication. Its message never holds a
// credential.
type authError struct {
	msg    string
	bearer bool // a token failure: answer with WWW-Authenticate: Bearer
}

func (e *authError) Error() string { return e.msg }

// signed is what a verified signature needs remembered against replays:
// its MAC and until when (unix seconds); expiry 0 for a signature without
// timestamp, which cannot be remembered (nothing says when to forget it).
type signed struct {
	mac    [sha256.Size]byte
	expiry int64
}

// request is what authentication looks at.
type request struct {
	header http.Header
	method string
	path   string // escaped, without the query
	body   []byte
}

// verify checks r against a. Both the token and the signature must pass
// when both are configured.
func (a *auth) verify(r request, now time.Time) (signed, *authError) {
	if a.hasToken {
		if err := a.verifyToken(r.header.Get("Authorization")); err != nil {
			return signed{}, err
		}
	}
	if a.hmacKey != nil {
		return a.verifySignature(r, now)
	}
	return signed{}, nil
}

func (a *auth) verifyToken(header string) *authError {
	scheme, token, ok := strings.Cut(header, " ")
	if header == "" || !ok || !strings.EqualFold(scheme, "Bearer") {
		return &authError{msg: "missing bearer token: send Authorization: Bearer <token>", bearer: true}
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(token)))
	if subtle.ConstantTimeCompare(sum[:], a.tokenSum[:]) != 1 {
		return &authError{msg: "wrong bearer token", bearer: true}
	}
	return nil
}

var dot = []byte{'.'}

func (a *auth) verifySignature(r request, now time.Time) (signed, *authError) {
	sig := r.header.Get(a.header)
	if sig == "" {
		return signed{}, &authError{msg: "missing signature header " + a.header}
	}
	scheme, want, ok := parseSignature(sig)
	if !ok {
		return signed{}, &authError{msg: "signature header " + a.header + " must be sha256=<hex HMAC-SHA256> or v2=<hex HMAC-SHA256>"}
	}
	ts := r.header.Get(TimestampHeader)
	switch {
	case scheme == schemeV2 && ts == "":
		return signed{}, &authError{msg: "v2 signatures need " + TimestampHeader}
	case a.requireTimestamp && ts == "":
		return signed{}, &authError{msg: "the stream requires a signed " + TimestampHeader + " (requireTimestamp)"}
	}
	var out signed
	if ts != "" {
		sec, err := parseTimestamp(ts, now)
		if err != nil {
			return signed{}, err
		}
		out.expiry = sec + int64(MaxClockSkew/time.Second)
	}

	mac := a.macs.Get().(hash.Hash)
	defer func() { mac.Reset(); a.macs.Put(mac) }()
	if ts != "" {
		mac.Write([]byte(ts))
		mac.Write(dot)
	}
	if scheme == schemeV2 {
		mac.Write([]byte(r.method))
		mac.Write(dot)
		mac.Write([]byte(r.path))
		mac.Write(dot)
	}
	mac.Write(r.body)
	if !hmac.Equal(mac.Sum(out.mac[:0]), want[:]) {
		return signed{}, &authError{msg: "signature does not match"}
	}
	return out, nil
}
