package webhook

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the per-address throttle of refused requests.
const (
	DefaultRefusalRate  = 10 // refused requests per second per address
	DefaultRefusalBurst = 50
	// defaultRefusalClients bounds the addresses remembered (about 100
	// bytes each).
	defaultRefusalClients = 1 << 16
)

// refusalTable throttles clients whose requests are refused (400, 401, 405,
// 413, 415): each refusal takes a token from its address's bucket, and an
// address without tokens is answered 429 before anything of its request is
// read. IPv4 addresses count alone, IPv6 ones by /64 (one host's share).
// It remembers at most max addresses: when full, buckets that have refilled
// (they hold nothing worth remembering) are dropped, at most once a second;
// addresses that still find no room share one overflow bucket. It is safe
// for concurrent use.
type refusalTable struct {
	rate  float64
	burst int
	max   int

	mu       sync.Mutex
	m        map[netip.Prefix]*tokenBucket
	overflow *tokenBucket
	swept    time.Time
	// remembered is len(m), stored under mu at every change, read
	// without it: while no address has a bucket (no refusal lately), no
	// request is throttled, and throttled answers without parsing the
	// address or taking mu (every request asks it).
	remembered atomic.Int64
}

func newRefusalTable(rate float64, burst, max int, now time.Time) *refusalTable {
	return &refusalTable{rate: rate, burst: burst, max: max, m: make(map[netip.Prefix]*tokenBucket),
		overflow: newTokenBucket(rate, burst, now)}
}

// clientPrefix is what a client is counted by: its IPv4 address or the /64
// of its IPv6 address. ok is false for a remote address that is not an IP
// address (never the case for TCP).
func clientPrefix(remoteAddr string) (netip.Prefix, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap().WithZone("")
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, err := a.Prefix(bits)
	return p, err == nil
}

// refill brings b up to now.
func (b *tokenBucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
		b.last = now
	}
}

// throttled reports whether the client at remoteAddr has no refusals left,
// and how long until it has one.
func (t *refusalTable) throttled(remoteAddr string, now time.Time) (bool, time.Duration) {
	if t.max > 0 && t.remembered.Load() == 0 {
		return false, 0 // as below: no bucket, and room for one
	}
	p, ok := clientPrefix(remoteAddr)
	if !ok {
		return false, 0
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[p]
	if b == nil {
		if len(t.m) < t.max {
			return false, 0
		}
		b = t.overflow
	}
	b.refill(now)
	if b.tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// charge takes one token from the bucket of the client at remoteAddr.
func (t *refusalTable) charge(remoteAddr string, now time.Time) {
	p, ok := clientPrefix(remoteAddr)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.m[p]
	if b == nil {
		if len(t.m) >= t.max {
			t.sweepLocked(now)
		}
		if len(t.m) >= t.max {
			b = t.overflow
		} else {
			b = newTokenBucket(t.rate, t.burst, now)
			t.m[p] = b
			t.remembered.Store(int64(len(t.m)))
		}
	}
	b.refill(now)
	b.tokens = math.Max(b.tokens-1, 0)
}

// sweepLocked drops the buckets that have refilled, at most once a second.
func (t *refusalTable) sweepLocked(now time.Time) {
	if now.Sub(t.swept) < time.Second {
		return
	}
	t.swept = now
	for p, b := range t.m {
		b.refill(now)
		if b.tokens >= b.burst {
			delete(t.m, p)
		}
	}
	t.remembered.Store(int64(len(t.m)))
}

func (t *refusalTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}

// charged reports whether a refusal with status spends the client's budget:
// the answers to requests that were wrong, not to ones that may be retried.
func charged(status int) bool {
	switch status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusMethodNotAllowed,
		http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return true
	}
	return false
}
