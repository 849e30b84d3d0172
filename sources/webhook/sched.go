package webhook

import (
	"container/heap"
	"sync"
	"time"
)

// schedule is the set of times at which streams must be looked at again:
// arrivals leaving a window, a TTL running out, a forgotten stream's level
// being dropped. Start's loop waits for the earliest. It is safe for
// concurrent use; callers may hold a stream's lock (never the other way
// round).
//
// A stream has at most one live entry, the one equal to its due field; an
// entry that no longer matches is stale and is skipped when popped. A
// stream's due time may be earlier than needed: when it comes, the stream
// works out what is due and schedules again.
type schedule struct {
	mu   sync.Mutex
	h    dueHeap
	wake chan struct{} // an earlier entry was added; capacity 1
}

type dueEntry struct {
	at time.Time
	s  *stream
}

func newSchedule() *schedule { return &schedule{wake: make(chan struct{}, 1)} }

// add schedules s at at, and wakes the loop if that is the new earliest.
func (q *schedule) add(at time.Time, s *stream) {
	q.mu.Lock()
	heap.Push(&q.h, dueEntry{at: at, s: s})
	first := q.h[0].s == s && q.h[0].at.Equal(at)
	q.mu.Unlock()
	if first {
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// popDue removes and returns, appended to buf, the entries due at now.
func (q *schedule) popDue(now time.Time, buf []dueEntry) []dueEntry {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.h) > 0 && !q.h[0].at.After(now) {
		buf = append(buf, heap.Pop(&q.h).(dueEntry))
	}
	return buf
}

// next returns the earliest entry's time.
func (q *schedule) next() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.h) == 0 {
		return time.Time{}, false
	}
	return q.h[0].at, true
}

// len returns the number of entries, stale ones included.
func (q *schedule) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

// dueHeap is a min-heap by time, for container/heap.
type dueHeap []dueEntry

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueEntry)) }
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = dueEntry{}
	*h = old[:len(old)-1]
	return e
}
