package gateway

import (
	"net/http"
	"time"
)

// Limits of the HTTP servers other than the webhook's (metrics, health,
// admission): their clients are Prometheus, the kubelet and the apiserver,
// but the ports may still be reached by anyone on the network.
const (
	defaultReadHeaderTimeout = 5 * time.Second
	defaultReadTimeout       = 10 * time.Second
	defaultWriteTimeout      = 30 * time.Second // a large /metrics scrape
	defaultIdleTimeout       = 2 * time.Minute
	defaultMaxHeaderBytes    = 32 << 10
)

// Defaults of the webhook server's limits, for Options fields left zero
// (embedders) and the flags.
const (
	DefaultWebhookReadTimeout    = 10 * time.Second
	DefaultWebhookWriteTimeout   = 10 * time.Second
	DefaultWebhookIdleTimeout    = time.Minute
	DefaultWebhookMaxHeaderBytes = 32 << 10
)

// serverLimits are the deadlines and header bound of one HTTP server. Every
// server the gateway runs has all of them: a client that sends its headers
// or body slowly, or never reads the answer, is cut off.
type serverLimits struct {
	readHeader, read, write, idle time.Duration
	maxHeaderBytes                int
}

var defaultLimits = serverLimits{
	readHeader: defaultReadHeaderTimeout, read: defaultReadTimeout, write: defaultWriteTimeout,
	idle: defaultIdleTimeout, maxHeaderBytes: defaultMaxHeaderBytes,
}

// webhookLimits are the webhook server's limits from o, defaults for zero
// fields.
func webhookLimits(o Options) serverLimits {
	l := serverLimits{
		read: o.WebhookReadTimeout, write: o.WebhookWriteTimeout, idle: o.WebhookIdleTimeout,
		maxHeaderBytes: o.WebhookMaxHeaderBytes,
	}
	if l.read <= 0 {
		l.read = DefaultWebhookReadTimeout
	}
	if l.write <= 0 {
		l.write = DefaultWebhookWriteTimeout
	}
	if l.idle <= 0 {
		l.idle = DefaultWebhookIdleTimeout
	}
	if l.maxHeaderBytes <= 0 {
		l.maxHeaderBytes = DefaultWebhookMaxHeaderBytes
	}
	l.readHeader = min(l.read, defaultReadHeaderTimeout)
	return l
}

// newServer returns a server for h with the limits l.
func newServer(h http.Handler, l serverLimits) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: l.readHeader,
		ReadTimeout:       l.read,
		WriteTimeout:      l.write,
		IdleTimeout:       l.idle,
		MaxHeaderBytes:    l.maxHeaderBytes,
	}
}
