package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// StreamPath is the route of a stream, in chi's syntax.
const StreamPath = "/v1/namespaces/{namespace}/streams/{stream}"

// contentTypeJSON is shared by every answer, to save an allocation each;
// nothing appends to it.
var contentTypeJSON = []string{"application/json"}

// maxPooledBody is the largest body buffer kept for reuse.
const maxPooledBody = 64 << 10

// rejection is a refused request. Its message never holds a credential.
type rejection struct {
	status     int
	reason     reason
	msg        string
	retryAfter int64 // seconds; 0 for none
	bearer     bool  // WWW-Authenticate: Bearer
	retryable  bool
}

var errUnavailable = &rejection{status: http.StatusServiceUnavailable, reason: reasonNone, msg: "shutting down", retryable: true}

func badRequest(msg string) *rejection {
	return &rejection{status: http.StatusBadRequest, reason: reasonBadRequest, msg: msg}
}

func notFound(k streamKey) *rejection {
	return &rejection{status: http.StatusNotFound, reason: reasonNotFound, retryable: true,
		msg: fmt.Sprintf("no trigger in namespace %q watches stream %q (yet): retry later, its ScaledObject or ScaledJob may not have been seen yet", k.namespace, k.name)}
}

// Handler serves the stream API under its full paths:
//
//	POST /v1/namespaces/{namespace}/streams/{stream}   change the level (202)
//	GET  /v1/namespaces/{namespace}/streams/{stream}   read it (200)
//
// Both answer {"stream": name, "value": level}, the level through the
// longest window of the stream's triggers; errors answer {"error": "..."},
// with "retryable": true where trying again later may succeed (a stream no
// trigger watches yet). A POST is answered once its value is recorded; a
// refused request changes nothing. A GET is authenticated as a POST with an
// empty body.
func (s *Source) Handler() http.Handler {
	r := chi.NewRouter()
	r.Post(StreamPath, func(w http.ResponseWriter, r *http.Request) { s.servePost(w, r, routedKey(r)) })
	r.Get(StreamPath, func(w http.ResponseWriter, r *http.Request) { s.serveGet(w, r, routedKey(r)) })
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, POST")
		s.refuse(w, r, routedKey(r), &rejection{status: http.StatusMethodNotAllowed, reason: reasonBadRequest,
			msg: "method " + r.Method + " not allowed: use POST or GET"}, true)
	})
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &rejection{status: http.StatusNotFound, msg: "no such endpoint: use " + StreamPath})
	})
	return s.limitInFlight(s.direct(r))
}

// direct serves a POST or GET whose path is plainly a stream's (no
// escaped characters, no empty segment) without the router, which copies
// every request it routes (WithContext) and sets its path values; every
// other request goes to router, with the same answers as before.
func (s *Source) direct(router http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawPath == "" && (r.Method == http.MethodPost || r.Method == http.MethodGet) {
			if key, ok := pathKey(r.URL.Path); ok {
				if r.Method == http.MethodPost {
					s.servePost(w, r, key)
				} else {
					s.serveGet(w, r, key)
				}
				return
			}
		}
		router.ServeHTTP(w, r)
	})
}

// streamPrefix is StreamPath up to the namespace.
const streamPrefix = "/v1/namespaces/"

// pathKey reads /v1/namespaces/<namespace>/streams/<stream>, both names
// non-empty and without a slash, as the router would match StreamPath.
func pathKey(path string) (streamKey, bool) {
	rest, ok := strings.CutPrefix(path, streamPrefix)
	if !ok {
		return streamKey{}, false
	}
	ns, name, ok := strings.Cut(rest, "/streams/")
	if !ok || ns == "" || name == "" || strings.IndexByte(ns, '/') >= 0 || strings.IndexByte(name, '/') >= 0 {
		return streamKey{}, false
	}
	return streamKey{namespace: ns, name: name}, true
}

// routedKey is the stream of a request the router matched (empty
// names before routing and for paths it did not match).
func routedKey(r *http.Request) streamKey {
	return streamKey{namespace: chi.URLParam(r, "namespace"), name: chi.URLParam(r, "stream")}
}

func (s *Source) servePost(w http.ResponseWriter, r *http.Request, key streamKey) {
	level, n, rej := s.post(key, r)
	if rej != nil {
		s.refuse(w, r, key, rej, true)
		return
	}
	s.events.add(reasonOK, n)
	writeLevel(w, http.StatusAccepted, key.name, level)
}

// post handles a POST: it returns the new level and the number of events.
// Checks run from the cheapest to the costliest, authentication before
// anything is parsed.
func (s *Source) post(key streamKey, r *http.Request) (float64, int, *rejection) {
	st, rej := s.lookup(key, r.Header)
	if rej != nil {
		return 0, 0, rej
	}
	mode, ok := requestMode(r.Header)
	if !ok {
		return 0, 0, &rejection{status: http.StatusUnsupportedMediaType, reason: reasonUnsupportedMedia,
			msg: "unsupported Content-Type: use application/json, application/cloudevents+json, application/cloudevents-batch+json or CloudEvents binary mode"}
	}
	buf, rej := s.readBody(r)
	if rej != nil {
		return 0, 0, rej
	}
	defer s.putBuffer(buf)
	body := *buf

	release, rej := s.authenticate(st, request{header: r.Header, method: r.Method, path: r.URL.EscapedPath(), body: body}, s.clock.Now(), true)
	if rej != nil {
		return 0, 0, rej
	}
	level, n, rej := s.apply(st, mode, r.Header, body)
	if rej != nil {
		release()
	}
	return level, n, rej
}

// apply parses an authenticated body and applies its events to st.
func (s *Source) apply(st *stream, mode bodyMode, h http.Header, body []byte) (float64, int, *rejection) {

	var one [1]op
	ops := one[:0]
	var err error
	switch mode {
	case modePlain:
		one[0], err = parsePlain(body)
		ops = one[:]
	case modeStructured:
		one[0], err = parseStructured(body)
		ops = one[:]
	case modeBinary:
		one[0], err = parseBinary(h, body)
		ops = one[:]
	case modeBatch:
		if ops, err = parseBatch(body, ops, s.maxBatch()); err != nil {
			return 0, 0, batchRejection(err)
		}
	}
	if err != nil {
		return 0, 0, badRequest(err.Error())
	}
	level, rej := st.post(ops)
	return level, len(ops), rej
}

// maxBatch is the most events one request may carry: MaxBatchEvents, or
// the rate limit's burst when that is smaller (a larger batch could never
// pass it).
func (s *Source) maxBatch() int {
	if s.opts.RateLimit > 0 && s.opts.RateBurst < s.opts.MaxBatchEvents {
		return s.opts.RateBurst
	}
	return s.opts.MaxBatchEvents
}

func (s *Source) serveGet(w http.ResponseWriter, r *http.Request, key streamKey) {
	level, rej := s.get(key, r)
	if rej != nil {
		s.refuse(w, r, key, rej, false) // reads are not events
		return
	}
	writeLevel(w, http.StatusOK, key.name, level)
}

// get handles a GET, authenticated as a POST with an empty body.
func (s *Source) get(key streamKey, r *http.Request) (float64, *rejection) {
	st, rej := s.lookup(key, r.Header)
	if rej != nil {
		return 0, rej
	}
	if _, rej := s.authenticate(st, request{header: r.Header, method: r.Method, path: r.URL.EscapedPath()}, s.clock.Now(), false); rej != nil {
		return 0, rej
	}
	return st.read()
}

// lookup finds a watched stream. With RequireAuth, a request that carries
// no credential at all learns nothing of which streams exist: 401 for an
// unknown stream as for one that needs authentication; only open streams
// answer it.
func (s *Source) lookup(key streamKey, h http.Header) (*stream, *rejection) {
	if s.closed.Load() {
		return nil, errUnavailable
	}
	s.mu.RLock()
	st := s.streams[key]
	s.mu.RUnlock()
	var a *auth
	if st != nil {
		a = st.auth.Load()
	}
	if a == nil {
		if s.opts.RequireAuth && !anyCredential(h) {
			return nil, missingCredential()
		}
		if !streamPattern.MatchString(key.name) {
			return nil, &rejection{status: http.StatusNotFound, reason: reasonNotFound,
				msg: fmt.Sprintf("stream %q: not a valid stream name", key.name)}
		}
		return nil, notFound(key)
	}
	if a.enabled() && !a.presented(h) {
		_, err := a.verify(request{header: h}, s.clock.Now()) // names what is missing
		return nil, &rejection{status: http.StatusUnauthorized, reason: reasonUnauthorized, msg: err.msg, bearer: err.bearer}
	}
	return st, nil
}

// credentialHeaders are the headers whose presence makes a request one
// that carries a credential, for streams not known to this gateway.
var credentialHeaders = []string{"Authorization", DefaultSignatureHeader, "X-Hub-Signature-256"}

func anyCredential(h http.Header) bool {
	for _, name := range credentialHeaders {
		if h.Get(name) != "" {
			return true
		}
	}
	return false
}

func missingCredential() *rejection {
	return &rejection{status: http.StatusUnauthorized, reason: reasonUnauthorized, bearer: true,
		msg: "missing credential: send Authorization: Bearer <token> or a signature header"}
}

// authenticate checks r against st's authentication. With remember (a
// POST), a timestamped signature is remembered, and a repeat refused; the
// returned release forgets it again, for a request refused afterwards (so
// that the client may retry it). release is never nil.
func (s *Source) authenticate(st *stream, r request, now time.Time, remember bool) (release func(), rej *rejection) {
	release = func() {}
	a := st.auth.Load()
	if a == nil {
		return release, notFound(st.key)
	}
	sig, err := a.verify(r, now)
	if err != nil {
		return release, &rejection{status: http.StatusUnauthorized, reason: reasonUnauthorized, msg: err.msg, bearer: err.bearer}
	}
	if !remember || sig.expiry == 0 {
		return release, nil
	}
	k := newReplayKey(st.key, sig.mac[:])
	used, full := s.replays.add(k, sig.expiry, now.Unix())
	switch {
	case used:
		return release, &rejection{status: http.StatusUnauthorized, reason: reasonUnauthorized,
			msg: "signature already used: sign each request with a fresh " + TimestampHeader}
	case full:
		return release, overloaded("too many signatures to remember against replays: retry later")
	}
	return func() { s.replays.forget(k, sig.expiry) }, nil
}

// refuse answers a refused request for the stream key (empty when not
// known yet), counting it as a refused event with count.
func (s *Source) refuse(w http.ResponseWriter, r *http.Request, key streamKey, rej *rejection, count bool) {
	if count {
		s.events.add(rej.reason, 1)
	}
	if s.refusals != nil && charged(rej.status) {
		s.refusals.charge(r.RemoteAddr, s.clock.Now())
	}
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.LogAttrs(context.Background(), slog.LevelDebug, "request refused",
			slog.String("method", r.Method),
			slog.String("namespace", key.namespace),
			slog.String("stream", key.name),
			slog.Int("status", rej.status),
			slog.String("error", rej.msg))
	}
	writeError(w, rej)
}

func writeError(w http.ResponseWriter, rej *rejection) {
	h := w.Header()
	if rej.bearer {
		h.Set("WWW-Authenticate", `Bearer realm="pushscale"`)
	}
	if rej.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(rej.retryAfter, 10))
	}
	body, _ := json.Marshal(struct {
		Error     string `json:"error"`
		Retryable bool   `json:"retryable,omitempty"`
	}{rej.msg, rej.retryable})
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(rej.status)
	_, _ = w.Write(append(body, '\n'))
}

// writeLevel answers {"stream": name, "value": level}. Stream names need no
// escaping: they match streamPattern.
func writeLevel(w http.ResponseWriter, status int, name string, level float64) {
	var arr [96]byte
	b := append(arr[:0], `{"stream":"`...)
	b = append(b, name...)
	b = append(b, `","value":`...)
	b = appendJSONFloat(b, level)
	b = append(b, "}\n"...)
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// appendJSONFloat formats a finite f as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	return strconv.AppendFloat(b, f, format, -1, 64)
}
