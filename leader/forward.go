package leader

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ForwardedHeader marks a request a standby forwarded (its value is the
// standby's identity). A replica that does not lead answers such a request
// 503 instead of forwarding it again, so two replicas with stale views of
// the Lease cannot bounce a request between them.
const ForwardedHeader = "X-Pushscale-Forwarded-By"

// Leadership is what the Forwarder asks: does this replica lead, and
// which one does.
type Leadership interface {
	Leading() bool
	Leader() (identity, address string, ok bool)
}

// ForwarderOptions configure a Forwarder.
type ForwarderOptions struct {
	// Local serves the requests while this replica leads.
	Local http.Handler
	// Leadership is this replica's view of the Lease.
	Leadership Leadership
	// Identity is this replica's (the ForwardedHeader's value).
	Identity string
	// Scheme is the leader's webhook scheme, http (default) or https;
	// Transport carries the forwarded requests (default: a transport with
	// the timeouts below; with https, it must trust the leader's
	// certificate).
	Scheme    string
	Transport http.RoundTripper
	// MaxInFlight bounds the forwarded requests at once (default 1024):
	// past it, 503 with Retry-After.
	MaxInFlight int
	// RetryAfter is the Retry-After of a 503 (default 1s).
	RetryAfter time.Duration
	Logger     *slog.Logger
	// Registerer receives pushscale_webhook_forwarded_total (nil: none).
	Registerer prometheus.Registerer
}

// Forwarder serves webhook requests: locally while this replica leads, by
// forwarding them to the leader's published address otherwise (method,
// path, query, headers, credentials and signatures included, the body
// streamed, the leader's answer returned as it is), and with 503 and
// Retry-After when no leader is known. It is safe for concurrent use.
type Forwarder struct {
	opts     ForwarderOptions
	proxy    *httputil.ReverseProxy
	slots    chan struct{}
	results  *prometheus.CounterVec
	retryHdr string
}

// Results of forwarded requests (label result of
// pushscale_webhook_forwarded_total).
const (
	resultForwarded = "forwarded"
	resultNoLeader  = "no_leader"
	resultBusy      = "busy"
	resultLoop      = "loop"
	resultError     = "error"
)

// NewForwarder returns a Forwarder.
func NewForwarder(opts ForwarderOptions) *Forwarder {
	if opts.Scheme == "" {
		opts.Scheme = "http"
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 1024
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil // never through an environment proxy: the leader is a peer
		t.ResponseHeaderTimeout = 10 * time.Second
		t.MaxIdleConnsPerHost = 64
		opts.Transport = t
	}
	f := &Forwarder{
		opts:     opts,
		slots:    make(chan struct{}, opts.MaxInFlight),
		retryHdr: strconv.Itoa(max(1, int(opts.RetryAfter.Round(time.Second)/time.Second))),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_webhook_forwarded_total",
			Help: "Webhook requests a standby received, by result: forwarded (to the leader, whatever it answered), no_leader (503), busy (503: too many in flight), loop (503: a forwarded request reached a standby), error (502: the leader did not answer).",
		}, []string{"result"}),
	}
	for _, r := range []string{resultForwarded, resultNoLeader, resultBusy, resultLoop, resultError} {
		f.results.WithLabelValues(r)
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(f.results)
	}
	f.proxy = &httputil.ReverseProxy{
		Transport: opts.Transport,
		Rewrite: func(pr *httputil.ProxyRequest) {
			to := pr.In.Context().Value(forwardKey{}).(*forwarding)
			pr.SetURL(&url.URL{Scheme: opts.Scheme, Host: to.address})
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
			pr.Out.Header.Set(ForwardedHeader, opts.Identity)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			to := r.Context().Value(forwardKey{}).(*forwarding)
			to.failed = true
			f.opts.Logger.Warn("forwarding a webhook request to the leader", "leader", to.address, "err", err)
			w.Header().Set("Retry-After", f.retryHdr)
			http.Error(w, "the leader did not answer; retry", http.StatusBadGateway)
		},
	}
	return f
}

// forwarding is one forwarded request's destination and outcome, carried
// in its context from ServeHTTP to the proxy's hooks.
type forwarding struct {
	address string
	failed  bool
}

type forwardKey struct{}

func (f *Forwarder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.opts.Leadership.Leading() {
		f.opts.Local.ServeHTTP(w, r)
		return
	}
	if r.Header.Get(ForwardedHeader) != "" {
		f.unavailable(w, resultLoop, "forwarded to a replica that does not lead (the leader changed); retry")
		return
	}
	_, addr, ok := f.opts.Leadership.Leader()
	if !ok || addr == "" {
		f.unavailable(w, resultNoLeader, "no leader at the moment; retry")
		return
	}
	select {
	case f.slots <- struct{}{}:
		defer func() { <-f.slots }()
	default:
		f.unavailable(w, resultBusy, "too many requests being forwarded; retry")
		return
	}
	to := &forwarding{address: addr}
	f.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), forwardKey{}, to)))
	if to.failed {
		f.results.WithLabelValues(resultError).Inc()
	} else {
		f.results.WithLabelValues(resultForwarded).Inc()
	}
}

func (f *Forwarder) unavailable(w http.ResponseWriter, result, msg string) {
	f.results.WithLabelValues(result).Inc()
	w.Header().Set("Retry-After", f.retryHdr)
	http.Error(w, msg, http.StatusServiceUnavailable)
}
