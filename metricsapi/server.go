package metricsapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	genericapiserver "k8s.io/apiserver/pkg/server"
)

// Server serves external.metrics.k8s.io/v1beta1 from a Values. Create it
// with New and run it with Start, once.
type Server struct {
	opts    Options
	values  Values
	log     *slog.Logger
	started atomic.Bool

	mu   sync.Mutex
	addr string // served address, set by Start
}

// New returns a Server for opts answering from values. It does no I/O: the
// port is bound and the kubeconfig read by Start.
func New(opts Options, values Values) (*Server, error) {
	if values == nil {
		return nil, errors.New("metricsapi: values is nil")
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{opts: opts, values: values, log: log}, nil
}

// Addr returns the address the server listens on, with the port chosen when
// Options.Addr had port 0, once Start serves it, and "" before. It is safe
// for concurrent use.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Start binds the port, builds the API server and serves until ctx is done.
// It returns nil after a clean stop: in-flight requests drained, the listener
// closed and the library's controllers told to stop (they finish moments
// later; the library offers no way to wait for them). Start may be called
// only once.
//
// It returns an error at once if the port cannot be bound or the server
// cannot be built. Building reads the kubeconfig and fetches the front-proxy
// settings from the kube-apiserver, so an unreachable kube-apiserver fails
// Start, as it fails KEDA's adapter; ctx is not consulted during that one
// request (client-go gives up on a dead server after its 30 s dial timeout).
// Aggregator (front-proxy) requests are trusted once the server's informer
// has synced the extension-apiserver-authentication ConfigMap, a fraction of
// a second after serving starts; until then they are anonymous and denied.
//
// Some goroutines outlive Start by the libraries' design: the klog flusher
// of healthz.LogHealthz (one per process, started by the first health check);
// client-go's cached transports to the kube-apiserver, whose idle connections
// close with the transport's idle timeout; and, when building fails after the
// authentication controllers were created, their idle workqueues (six
// goroutines), which only their Run would shut down. The process is expected
// to exit after a failed Start.
func (s *Server) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("metricsapi: Start called twice")
	}
	ln, err := net.Listen("tcp", s.opts.Addr)
	if err != nil {
		return fmt.Errorf("metricsapi: %w", err)
	}
	a := s.adapter(ln)
	if s.opts.Cert != nil {
		// The library's options know only files or a certificate it
		// generates itself; the built configuration takes any provider,
		// and the serving controller listens to it.
		cfg, err := a.Config()
		if err != nil {
			_ = ln.Close()
			return fmt.Errorf("metricsapi: build server: %w", err)
		}
		cfg.GenericConfig.SecureServing.Cert = s.opts.Cert
	}
	server, err := a.Server()
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("metricsapi: build server: %w", err)
	}
	// The library runs post-start hooks once it serves the listener.
	addr := ln.Addr().String()
	err = server.GenericAPIServer.AddPostStartHook("pushscale-serving", func(genericapiserver.PostStartHookContext) error {
		s.mu.Lock()
		s.addr = addr
		s.mu.Unlock()
		s.log.Info("serving external metrics API", "addr", addr)
		return nil
	})
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("metricsapi: build server: %w", err)
	}
	// RunWithContext stops the post-start hooks (informers, certificate and
	// authentication controllers) and drains requests when ctx is done, and
	// returns once the HTTP server has shut down.
	if err := server.GenericAPIServer.PrepareRun().RunWithContext(ctx); err != nil {
		return fmt.Errorf("metricsapi: serve: %w", err)
	}
	s.log.Info("external metrics API stopped")
	return nil
}
