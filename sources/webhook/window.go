package webhook

// bucket counts the arrivals of one second.
type bucket struct {
	sec int64 // unix seconds
	n   uint64
}

// arrivals counts a stream's arrivals per second, oldest first. It holds at
// most one bucket per second of the longest window watching the stream (the
// stream prunes older ones), so its memory is bounded by MaxWindowSeconds.
// It is not safe for concurrent use: its stream's lock guards it.
type arrivals struct {
	b     []bucket
	total uint64 // sum of b[i].n
}

// add counts n arrivals in second sec. A clock that steps back counts into
// the newest bucket.
func (a *arrivals) add(sec int64, n uint64) {
	if l := len(a.b); l > 0 && a.b[l-1].sec >= sec {
		a.b[l-1].n += n
	} else {
		a.b = append(a.b, bucket{sec: sec, n: n})
	}
	a.total += n
}

// prune drops the buckets of seconds up to cut.
func (a *arrivals) prune(cut int64) {
	i := 0
	for i < len(a.b) && a.b[i].sec <= cut {
		a.total -= a.b[i].n
		i++
	}
	if i == len(a.b) {
		a.b = a.b[:0]
	} else if i > 0 {
		a.b = a.b[i:]
	}
}

// count returns the arrivals within the window of w seconds that ends in
// second now: those of seconds now-w+1 through now.
func (a *arrivals) count(w, now int64) uint64 {
	n, cut := a.total, now-w
	for i := 0; i < len(a.b) && a.b[i].sec <= cut; i++ {
		n -= a.b[i].n
	}
	return n
}

// expiry returns when the oldest arrival within a window of w seconds ending
// in second now leaves that window, in unix seconds.
func (a *arrivals) expiry(w, now int64) (int64, bool) {
	cut := now - w
	for i := range a.b {
		if a.b[i].sec > cut {
			return a.b[i].sec + w, true
		}
	}
	return 0, false
}

func (a *arrivals) clear() {
	a.b = a.b[:0]
	a.total = 0
}
