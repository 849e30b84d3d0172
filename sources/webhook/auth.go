package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"hash"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TimestampHeader, when a request carries it (unix seconds), is signed with
// the body as "<timestamp>.<body>" and must be within MaxClockSkew of now:
// replay protection. Without it the signature covers the body alone, as
// GitHub signs.
const TimestampHeader = "X-Pushscale-Timestamp"

// MaxClockSkew is how far a signed timestamp may be from now.
const MaxClockSkew = 5 * time.Minute

const signaturePrefix = "sha256="

// auth is the authentication of one stream. It is immutable once built and
// safe for concurrent use. It keeps the token only as its SHA-256 sum, and
// prints as "[redacted]".
type auth struct {
	hasToken bool
	tokenSum [sha256.Size]byte
	hmacKey  []byte
	header   string // canonical signature header
	macs     sync.Pool
}

// newAuth returns the authentication for a token and an HMAC secret (each
// empty when unset) with the signature in header.
func newAuth(token, hmacSecret, header string) *auth {
	a := &auth{header: header}
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
	return a.hmacKey == nil || a.header == b.header
}

// authError is a failed authentication. Its message never holds a
// credential.
type authError struct {
	msg    string
	bearer bool // a token failure: answer with WWW-Authenticate: Bearer
}

func (e *authError) Error() string { return e.msg }

// verify checks the request headers h and body against a. Both the token
// and the signature must pass when both are configured.
func (a *auth) verify(h http.Header, body []byte, now time.Time) *authError {
	if a.hasToken {
		if err := a.verifyToken(h.Get("Authorization")); err != nil {
			return err
		}
	}
	if a.hmacKey != nil {
		return a.verifySignature(h, body, now)
	}
	return nil
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

func (a *auth) verifySignature(h http.Header, body []byte, now time.Time) *authError {
	sig := h.Get(a.header)
	if sig == "" {
		return &authError{msg: "missing signature header " + a.header}
	}
	want, ok := parseSignature(sig)
	if !ok {
		return &authError{msg: "signature header " + a.header + " must be sha256=<hex HMAC-SHA256>"}
	}

	mac := a.macs.Get().(hash.Hash)
	defer func() { mac.Reset(); a.macs.Put(mac) }()
	if ts := h.Get(TimestampHeader); ts != "" {
		sec, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return &authError{msg: TimestampHeader + " must be unix seconds"}
		}
		if skew := now.Sub(time.Unix(sec, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
			return &authError{msg: TimestampHeader + " is more than 5 minutes from now"}
		}
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
	}
	mac.Write(body)
	var got [sha256.Size]byte
	if !hmac.Equal(mac.Sum(got[:0]), want[:]) {
		return &authError{msg: "signature does not match"}
	}
	return nil
}
