package webhook

import (
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
)

// Type is the trigger type this package serves.
const Type = "webhook"

// The metadata keys of a webhook trigger.
const (
	keyStream          = "stream"
	keyTarget          = "targetValue"
	keyActivation      = "activationTargetValue"
	keyWindow          = "windowSeconds"
	keyTTL             = "ttlSeconds"
	keySignatureHeader = "signatureHeader"
	keyRequireTS       = "requireTimestamp"
	keyAllowUnauth     = "allowUnauthenticated"
)

// The authentication parameters (TriggerAuthentication parameter names).
const (
	paramToken      = "token"
	paramHMACSecret = "hmacSecret"
)

const (
	// DefaultSignatureHeader carries the HMAC signature unless a trigger
	// names another header (GitHub's X-Hub-Signature-256, for example).
	DefaultSignatureHeader = "X-Pushscale-Signature"
	// DefaultWindow is the arrival-counting window without windowSeconds.
	DefaultWindow = 60 * time.Second
	// MaxWindowSeconds bounds windowSeconds, and so the per-second arrival
	// buckets a stream keeps.
	MaxWindowSeconds = 3600
	// minTarget is the smallest targetValue: the HPA's target is in
	// milli-units, and a smaller one would round to 0.
	minTarget = 0.001
	// maxTTLSeconds keeps ttlSeconds well inside a time.Duration.
	maxTTLSeconds = 1<<31 - 1
)

var streamPattern = regexp.MustCompile(`^[a-z0-9]([-a-z0-9._]{0,251}[a-z0-9])?$`)

// Config is the parsed, validated metadata of one webhook trigger. Its
// credentials are not exported and never printed.
type Config struct {
	// Stream names the stream within the trigger's namespace.
	Stream string
	// TargetValue is the HPA target value.
	TargetValue float64
	// ActivationTargetValue is the activation threshold.
	ActivationTargetValue float64
	// Window is the span over which arrivals are counted.
	Window time.Duration
	// TTL, when non-zero, drops the stream to 0 after that long without
	// events.
	TTL time.Duration
	// SignatureHeader is the canonical name of the header that carries the
	// HMAC signature.
	SignatureHeader string
	// RequireTimestamp refuses signatures without a signed timestamp
	// (requireTimestamp: "true"; needs hmacSecret).
	RequireTimestamp bool
	// AllowUnauthenticated opens a stream without token or hmacSecret to
	// anyone when the gateway requires authentication
	// (allowUnauthenticated: "true").
	AllowUnauthenticated bool

	auth *auth
}

// HasAuth reports whether the trigger configures a token or an HMAC secret.
func (c Config) HasAuth() bool { return c.auth.enabled() }

// String describes c without its credentials.
func (c Config) String() string {
	return fmt.Sprintf("webhook.Config{Stream:%q TargetValue:%g ActivationTargetValue:%g Window:%s TTL:%s SignatureHeader:%q RequireTimestamp:%t AllowUnauthenticated:%t Auth:%s}",
		c.Stream, c.TargetValue, c.ActivationTargetValue, c.Window, c.TTL, c.SignatureHeader, c.RequireTimestamp, c.AllowUnauthenticated, c.auth)
}

// GoString is String, so that %#v does not print the credentials either.
func (c Config) GoString() string { return c.String() }

// ParseConfig validates the metadata and authentication parameters of t
// after applying defaults. Errors name the field and the bad value, never a
// credential.
func ParseConfig(t sources.Trigger) (Config, error) {
	md := t.Metadata
	c := Config{Window: DefaultWindow, SignatureHeader: DefaultSignatureHeader}

	c.Stream = md[keyStream]
	if c.Stream == "" {
		return Config{}, fmt.Errorf("webhook: %s: required", keyStream)
	}
	if !streamPattern.MatchString(c.Stream) {
		return Config{}, fmt.Errorf("webhook: %s %q: must be 1 to 253 lower-case letters, digits, '-', '.' or '_', starting and ending with a letter or digit", keyStream, c.Stream)
	}

	raw, ok := md[keyTarget]
	if !ok || raw == "" {
		return Config{}, fmt.Errorf("webhook: %s: required", keyTarget)
	}
	v, err := parseFloat(raw)
	if err != nil || v < minTarget || v > MaxValue {
		return Config{}, fmt.Errorf("webhook: %s %q: must be a number from %g to %g", keyTarget, raw, minTarget, float64(MaxValue))
	}
	c.TargetValue = v

	if raw, ok := md[keyActivation]; ok && raw != "" {
		v, err := parseFloat(raw)
		if err != nil || v < 0 || v > MaxValue {
			return Config{}, fmt.Errorf("webhook: %s %q: must be a number from 0 to %g", keyActivation, raw, float64(MaxValue))
		}
		c.ActivationTargetValue = v
	}

	if raw, ok := md[keyWindow]; ok && raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 || n > MaxWindowSeconds {
			return Config{}, fmt.Errorf("webhook: %s %q: must be a whole number of seconds from 1 to %d", keyWindow, raw, MaxWindowSeconds)
		}
		c.Window = time.Duration(n) * time.Second
	}

	if raw, ok := md[keyTTL]; ok && raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n <= 0 || n > maxTTLSeconds {
			return Config{}, fmt.Errorf("webhook: %s %q: must be a whole number of seconds greater than 0", keyTTL, raw)
		}
		c.TTL = time.Duration(n) * time.Second
	}

	if raw, ok := md[keySignatureHeader]; ok && raw != "" {
		if !validHeaderName(raw) {
			return Config{}, fmt.Errorf("webhook: %s %q: must be an HTTP header name", keySignatureHeader, raw)
		}
		c.SignatureHeader = http.CanonicalHeaderKey(raw)
	}

	if raw, ok := md[keyRequireTS]; ok && raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return Config{}, fmt.Errorf("webhook: %s %q: must be true or false", keyRequireTS, raw)
		}
		if v && t.AuthParams[paramHMACSecret] == "" {
			return Config{}, fmt.Errorf("webhook: %s %q: needs the authentication parameter %s (it is the signed timestamp that is required)", keyRequireTS, raw, paramHMACSecret)
		}
		c.RequireTimestamp = v
	}

	if raw, ok := md[keyAllowUnauth]; ok && raw != "" {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			return Config{}, fmt.Errorf("webhook: %s %q: must be true or false", keyAllowUnauth, raw)
		}
		if v && (t.AuthParams[paramToken] != "" || t.AuthParams[paramHMACSecret] != "") {
			return Config{}, fmt.Errorf("webhook: %s %q: the trigger also has %s or %s: remove one or the other", keyAllowUnauth, raw, paramToken, paramHMACSecret)
		}
		c.AllowUnauthenticated = v
	}

	c.auth = newAuth(t.AuthParams[paramToken], t.AuthParams[paramHMACSecret], c.SignatureHeader, c.RequireTimestamp)
	return c, nil
}

// Spec returns what the scaler needs to know of a trigger with config c at
// index in its owner's spec.triggers.
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, Type+"-"+c.Stream),
		Target:     c.TargetValue,
		Activation: c.ActivationTargetValue,
	}
}

// parseFloat parses a finite float.
func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not finite")
	}
	return v, nil
}

// validHeaderName reports whether s is an HTTP field name (an RFC 9110
// token).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
