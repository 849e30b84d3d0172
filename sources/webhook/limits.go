package webhook

import (
	"io"
	"net/http"
	"strconv"
)

// Defaults of the request limits in Options.
const (
	// DefaultMaxInFlight bounds the requests handled at once.
	DefaultMaxInFlight = 4096
	// DefaultMaxBufferedBytes bounds the body bytes held by all requests
	// together.
	DefaultMaxBufferedBytes = 64 << 20
	// initialBodyBuffer is the size of a new body buffer; it doubles as
	// data arrives.
	initialBodyBuffer = 512
)

func overloaded(msg string) *rejection {
	return &rejection{status: http.StatusServiceUnavailable, reason: reasonOverloaded, msg: msg, retryAfter: 1, retryable: true}
}

// limitInFlight refuses, before anything of them is read, requests from a
// throttled address (429) and requests beyond Options.MaxInFlight (503),
// and counts the others while next serves them.
func (s *Source) limitInFlight(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.refusals != nil {
			if no, wait := s.refusals.throttled(r.RemoteAddr, s.clock.Now()); no {
				s.refuse(w, r, routedKey(r), &rejection{status: http.StatusTooManyRequests, reason: reasonThrottled, retryAfter: retryAfterSeconds(wait),
					msg: "too many refused requests from this address: retry later"}, r.Method == http.MethodPost)
				return
			}
		}
		if s.inFlight.Add(1) > int64(s.opts.MaxInFlight) {
			s.inFlight.Add(-1)
			s.refuse(w, r, routedKey(r), overloaded("too many requests in flight: retry later"), r.Method == http.MethodPost)
			return
		}
		defer s.inFlight.Add(-1)
		next.ServeHTTP(w, r)
	})
}

// reserve takes n bytes from the budget shared by every request body
// (Options.MaxBufferedBytes); it takes none and reports false when that
// would pass the budget.
func (s *Source) reserve(n int64) bool {
	if s.buffered.Add(n) > s.opts.MaxBufferedBytes {
		s.buffered.Add(-n)
		return false
	}
	return true
}

// readBody reads the request body, refusing bodies over MaxBodyBytes. The
// buffer grows as data arrives (doubling), never to what Content-Length
// declares, and every byte of its capacity is reserved from the shared
// budget first. The caller returns the buffer with putBuffer.
func (s *Source) readBody(r *http.Request) (*[]byte, *rejection) {
	limit := s.opts.MaxBodyBytes
	if r.ContentLength > limit {
		return nil, s.tooLarge()
	}
	buf := s.bufs.Get().(*[]byte)
	if !s.reserve(int64(cap(*buf))) {
		s.bufs.Put(buf)
		return nil, overloaded("the gateway holds too many request bodies: retry later")
	}
	for {
		b := *buf
		if len(b) == cap(b) {
			grown := min(2*int64(cap(b)), limit+1) // +1 to see a body over the limit
			if !s.reserve(grown - int64(cap(b))) {
				s.putBuffer(buf)
				return nil, overloaded("the gateway holds too many request bodies: retry later")
			}
			nb := make([]byte, len(b), grown)
			copy(nb, b)
			b = nb
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*buf = b
		if int64(len(b)) > limit {
			s.putBuffer(buf)
			return nil, s.tooLarge()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			s.putBuffer(buf)
			return nil, badRequest("reading body: " + err.Error())
		}
	}
}

func (s *Source) tooLarge() *rejection {
	return &rejection{status: http.StatusRequestEntityTooLarge, reason: reasonTooLarge,
		msg: "body larger than " + strconv.FormatInt(s.opts.MaxBodyBytes, 10) + " bytes"}
}

// putBuffer gives b's capacity back to the budget and keeps small buffers
// for reuse.
func (s *Source) putBuffer(b *[]byte) {
	s.buffered.Add(-int64(cap(*b)))
	if cap(*b) <= maxPooledBody {
		*b = (*b)[:0]
		s.bufs.Put(b)
	}
}
