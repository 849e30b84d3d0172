package webhook

import (
	"crypto/sha256"
	"sync"
)

// DefaultReplayCacheSize bounds the signatures remembered against replays.
const DefaultReplayCacheSize = 1 << 20

// replayKey names one used signature: a digest of the stream and the MAC,
// so that the same body signed with a shared secret for two streams is
// two signatures.
type replayKey [16]byte

func newReplayKey(k streamKey, mac []byte) replayKey {
	h := sha256.New()
	h.Write([]byte(k.namespace))
	h.Write([]byte{0})
	h.Write([]byte(k.name))
	h.Write([]byte{0})
	h.Write(mac)
	var sum [sha256.Size]byte
	var rk replayKey
	copy(rk[:], h.Sum(sum[:0]))
	return rk
}

// replayCache remembers timestamped signatures until their timestamp leaves
// the window (timestamp + MaxClockSkew), in buckets by the minute they
// expire in: a signature always has the same timestamp, so one bucket is
// looked at, and a bucket is dropped whole once its minute has passed. It
// holds at most max signatures (about 40 bytes each). Only signatures that
// verified are remembered, so only a holder of the secret can fill it. It
// is safe for concurrent use.
type replayCache struct {
	mu      sync.Mutex
	max     int
	n       int
	buckets map[int64]map[replayKey]struct{}
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, buckets: make(map[int64]map[replayKey]struct{})}
}

// add remembers k until expiry (unix seconds) if it is new. It reports a
// repeat (used), or that the cache is full (full; nothing remembered).
func (c *replayCache) add(k replayKey, expiry, now int64) (used, full bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	idx := expiry / 60
	b := c.buckets[idx]
	if _, ok := b[k]; ok {
		return true, false
	}
	if c.n >= c.max {
		return false, true
	}
	if b == nil {
		b = make(map[replayKey]struct{})
		c.buckets[idx] = b
	}
	b[k] = struct{}{}
	c.n++
	return false, false
}

// forget drops k: its request was refused after authentication, so the
// client may send it again.
func (c *replayCache) forget(k replayKey, expiry int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b := c.buckets[expiry/60]; b != nil {
		if _, ok := b[k]; ok {
			delete(b, k)
			c.n--
		}
	}
}

// pruneLocked drops the buckets whose every signature has expired.
func (c *replayCache) pruneLocked(now int64) {
	for idx, b := range c.buckets {
		if (idx+1)*60 <= now {
			c.n -= len(b)
			delete(c.buckets, idx)
		}
	}
}
