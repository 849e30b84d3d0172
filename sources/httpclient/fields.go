package httpclient

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Parsers for the fields of HTTP sources, in KEDA's formats; their errors
// are the "why" of a sources.Field's error.

// Pairs parses KEDA's map format "k1=v1,k2=v2" (customHeaders,
// queryParameters): entries split on commas, each exactly one key=value,
// both trimmed, the key not empty.
func Pairs(s string) (map[string]string, error) {
	out := make(map[string]string)
	for _, entry := range strings.Split(s, ",") {
		kv := strings.Split(strings.TrimSpace(entry), "=")
		if len(kv) != 2 || strings.TrimSpace(kv[0]) == "" {
			return nil, fmt.Errorf("must be a comma separated list of key=value")
		}
		out[strings.TrimSpace(kv[0])] = strings.TrimSpace(kv[1])
	}
	return out, nil
}

// Headers is Pairs whose keys must be HTTP header names.
func Headers(s string) (map[string]string, error) {
	h, err := Pairs(s)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		if !validHeaderName(k) || strings.ContainsAny(v, "\r\n\x00") {
			return nil, fmt.Errorf("must be a comma separated list of header=value with valid header names")
		}
	}
	return h, nil
}

// Timeout parses KEDA's timeout: a Go duration ("5s") or a whole number
// of milliseconds, greater than 0.
func Timeout(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return d, nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil && ms > 0 && ms < math.MaxInt64/int64(time.Millisecond) {
		return time.Duration(ms) * time.Millisecond, nil
	}
	return 0, fmt.Errorf("must be a duration (5s) or a whole number of milliseconds, greater than 0")
}

// Float parses a finite number.
func Float(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("must be a number")
	}
	return v, nil
}

// PositiveFloat parses a finite number greater than 0.
func PositiveFloat(s string) (float64, error) {
	v, err := Float(s)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("must be a number greater than 0")
	}
	return v, nil
}

// URL parses an absolute http or https URL with a host.
func URL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("must be an http:// or https:// URL")
	}
	return u, nil
}
