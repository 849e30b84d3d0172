package certs

import (
	"bytes"
	"crypto/tls"
	"errors"
	"sync"

	"k8s.io/apiserver/pkg/server/dynamiccertificates"
)

// Holder holds the current serving certificate and key. Servers read it on
// every handshake, so a Set is served at once without a restart. It is safe
// for concurrent use; the zero value is not usable: use NewHolder.
type Holder struct {
	name  string
	ready chan struct{}

	mu        sync.Mutex
	cert      *tls.Certificate
	certPEM   []byte
	keyPEM    []byte
	listeners []dynamiccertificates.Listener
	notAfter  float64 // Unix seconds, of cert
	observers []func(notAfter float64)
}

var _ dynamiccertificates.CertKeyContentProvider = (*Holder)(nil)

// NewHolder returns an empty Holder; name identifies it in the API
// server's logs.
func NewHolder(name string) *Holder {
	return &Holder{name: name, ready: make(chan struct{})}
}

// Set makes certPEM and keyPEM the served pair, if they parse and match,
// and tells the listeners. An unchanged pair is a no-op.
func (h *Holder) Set(certPEM, keyPEM []byte) error {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return errors.New("certs: the certificate and key do not parse or do not match")
	}
	h.mu.Lock()
	if bytes.Equal(h.certPEM, certPEM) && bytes.Equal(h.keyPEM, keyPEM) {
		h.mu.Unlock()
		return nil
	}
	first := h.cert == nil
	h.cert, h.certPEM, h.keyPEM = &pair, bytes.Clone(certPEM), bytes.Clone(keyPEM)
	h.notAfter = float64(pair.Leaf.NotAfter.Unix())
	listeners := append([]dynamiccertificates.Listener(nil), h.listeners...)
	observers := append([]func(float64){}, h.observers...)
	notAfter := h.notAfter
	h.mu.Unlock()
	if first {
		close(h.ready)
	}
	for _, l := range listeners {
		l.Enqueue()
	}
	for _, o := range observers {
		o(notAfter)
	}
	return nil
}

// onSet calls f with the certificate's expiry now (if there is one) and
// after every change.
func (h *Holder) onSet(f func(notAfter float64)) {
	h.mu.Lock()
	h.observers = append(h.observers, f)
	have, notAfter := h.cert != nil, h.notAfter
	h.mu.Unlock()
	if have {
		f(notAfter)
	}
}

// Ready is closed once the Holder has a certificate.
func (h *Holder) Ready() <-chan struct{} { return h.ready }

// GetCertificate is a tls.Config.GetCertificate: the current pair, or an
// error (the handshake fails) before the first Set.
func (h *Holder) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cert == nil {
		return nil, errors.New("certs: no serving certificate yet")
	}
	return h.cert, nil
}

// TLSConfig returns a server tls.Config serving the Holder's pair.
func (h *Holder) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: h.GetCertificate}
}

// Name is the provider's name (dynamiccertificates.CertKeyContentProvider).
func (h *Holder) Name() string { return h.name }

// CurrentCertKeyContent returns the PEM pair (nil, nil before the first
// Set), for the API server's dynamic serving controller.
func (h *Holder) CurrentCertKeyContent() ([]byte, []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.certPEM, h.keyPEM
}

// AddListener registers l to be told of every new pair. The metrics API
// server adds one listener each time it is built.
func (h *Holder) AddListener(l dynamiccertificates.Listener) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.listeners = append(h.listeners, l)
}
