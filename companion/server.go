package companion

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"k8s.io/utils/clock"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// KindExternalScaler is the store.Kind of the triggers companion mode
// watches (see the package doc for the whole key).
const KindExternalScaler store.Kind = "ExternalScalerTrigger"

// Sources is what the Server uses of the gateway's *sources.Manager.
type Sources interface {
	Parse(t sources.Trigger) (sources.Spec, error)
	Watch(t sources.Trigger) error
	Unwatch(typ string, k store.Key)
	Check(typ string, k store.Key) error
}

// Store is what the Server uses of the gateway's *store.Store.
type Store interface {
	Get(k store.Key) (store.Entry, bool)
	Forget(o store.Owner)
}

// Defaults of the Options left zero.
const (
	DefaultMaxTriggers             = 10000
	DefaultMaxTriggersPerNamespace = 1000
	DefaultMaxStreams              = 20000
	DefaultIdleTimeout             = 10 * time.Minute
	DefaultAuthRefresh             = time.Minute
)

// Options configure a Server.
type Options struct {
	// Listener is where the server serves; Start closes it.
	Listener net.Listener
	// TLS is the server's TLS configuration (a client certificate
	// required: see ServerTLS). Nil serves plain gRPC: for tests only.
	TLS *tls.Config
	// Sources and Store are the gateway's.
	Sources Sources
	Store   Store
	// Auth resolves pushscaleAuthenticationRef; nil refuses it.
	Auth Auth
	// Namespace, when set, is the only namespace served (--watch-namespace).
	Namespace string
	// Bounds; zero: the defaults above.
	MaxTriggers, MaxTriggersPerNamespace, MaxStreams int
	// IdleTimeout is the unwatch rule's; AuthRefresh how often
	// TriggerAuthentications are read again. Zero: the defaults.
	IdleTimeout, AuthRefresh time.Duration
	Clock                    clock.WithTicker
	Logger                   *slog.Logger
	// Metrics, when set, count requests and open streams.
	Metrics *Metrics
}

// Server implements pb.ExternalScalerServer. Create it with New, feed it
// the store's changes with Notify, run it with Start. It is safe for
// concurrent use.
type Server struct {
	pb.UnimplementedExternalScalerServer
	opts Options
	log  *slog.Logger

	// createMu serializes creating and re-watching triggers (the auth
	// reads happen under it, never under mu).
	createMu sync.Mutex
	mu       sync.RWMutex
	byID     map[string]*trigger
	byOwner  map[store.Owner]*trigger
	perNS    map[string]int
	streams  int
}

// New returns a Server; nothing runs before Start.
func New(opts Options) *Server {
	if opts.MaxTriggers <= 0 {
		opts.MaxTriggers = DefaultMaxTriggers
	}
	if opts.MaxTriggersPerNamespace <= 0 {
		opts.MaxTriggersPerNamespace = DefaultMaxTriggersPerNamespace
	}
	if opts.MaxStreams <= 0 {
		opts.MaxStreams = DefaultMaxStreams
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.AuthRefresh <= 0 {
		opts.AuthRefresh = DefaultAuthRefresh
	}
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		opts: opts, log: opts.Logger.With("component", "external-scaler"),
		byID: map[string]*trigger{}, byOwner: map[store.Owner]*trigger{}, perNS: map[string]int{},
	}
}

// Start serves on Options.Listener and runs the unwatch and auth refresh
// loops until ctx is done; then it stops the gRPC server (open streams
// end), unwatches every trigger and returns nil. A failure to serve is
// returned.
func (s *Server) Start(ctx context.Context) error {
	gopts := []grpc.ServerOption{grpc.MaxRecvMsgSize(4 * maxMetadataBytes)}
	if s.opts.TLS != nil {
		gopts = append(gopts, grpc.Creds(credentials.NewTLS(s.opts.TLS)))
	}
	if m := s.opts.Metrics; m != nil {
		gopts = append(gopts, grpc.UnaryInterceptor(m.unary), grpc.StreamInterceptor(m.stream))
	}
	gs := grpc.NewServer(gopts...)
	pb.RegisterExternalScalerServer(gs, s)

	var wg sync.WaitGroup
	loopCtx, stop := context.WithCancel(ctx)
	wg.Add(2)
	go func() { defer wg.Done(); s.every(loopCtx, s.sweepInterval(), s.sweepIdle) }()
	go func() { defer wg.Done(); s.every(loopCtx, s.opts.AuthRefresh, s.refreshAuth) }()
	errc := make(chan error, 1)
	go func() { errc <- gs.Serve(s.opts.Listener) }()
	var err error
	select {
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("companion: serve: %w", err)
		}
	case <-ctx.Done():
	}
	stop()
	gs.Stop()
	wg.Wait()
	s.removeAll()
	return err
}

func (s *Server) sweepInterval() time.Duration {
	return max(s.opts.IdleTimeout/4, time.Second)
}

// every calls fn every d until ctx is done.
func (s *Server) every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := s.opts.Clock.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			fn(ctx)
		}
	}
}

// Notify is (part of) the store's notify function: a change of one of
// the Server's triggers wakes its streams. It never blocks.
func (s *Server) Notify(o store.Owner) {
	if o.Kind != KindExternalScaler {
		return
	}
	s.mu.RLock()
	t := s.byOwner[o]
	s.mu.RUnlock()
	if t != nil {
		t.wake()
	}
}

// Triggers returns the number of triggers watched.
func (s *Server) Triggers() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}

// acquire returns the watched trigger ref names, watching it first if
// needed, and marks it used. Errors are gRPC statuses.
func (s *Server) acquire(ctx context.Context, ref *pb.ScaledObjectRef) (*trigger, error) {
	r, err := parseRef(ref)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if s.opts.Namespace != "" && r.namespace != s.opts.Namespace {
		return nil, status.Errorf(codes.PermissionDenied, "scaledObjectRef.namespace %q: this pushscale serves namespace %s only (--watch-namespace)", r.namespace, s.opts.Namespace)
	}
	s.mu.RLock()
	t := s.byID[r.id]
	s.mu.RUnlock()
	if t == nil {
		if t, err = s.create(ctx, r); err != nil {
			return nil, err
		}
	}
	t.touch(s.opts.Clock.Now())
	if err := s.opts.Sources.Check(t.req.typ, t.key); err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return t, nil
}

// create watches the trigger of r, within the bounds.
func (s *Server) create(ctx context.Context, r request) (*trigger, error) {
	s.createMu.Lock()
	defer s.createMu.Unlock()
	s.mu.RLock()
	t, total, inNS := s.byID[r.id], len(s.byID), s.perNS[r.namespace]
	s.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	if total >= s.opts.MaxTriggers {
		return nil, status.Errorf(codes.ResourceExhausted, "pushscale watches %d external scaler triggers, its most (--external-scaler-max-triggers)", total)
	}
	if inNS >= s.opts.MaxTriggersPerNamespace {
		return nil, status.Errorf(codes.ResourceExhausted, "namespace %s has %d external scaler triggers, its most (--external-scaler-max-triggers-per-namespace)", r.namespace, inNS)
	}
	params, err := s.resolve(ctx, r)
	if err != nil {
		return nil, err
	}
	t = newTrigger(r)
	spec, err := s.watch(t, params)
	if err != nil {
		return nil, err
	}
	t.spec, t.params = spec, params
	s.mu.Lock()
	s.byID[r.id] = t
	s.byOwner[t.key.Owner] = t
	s.perNS[r.namespace]++
	n := len(s.byID)
	s.mu.Unlock()
	s.opts.Metrics.setTriggers(n)
	s.log.Info("external scaler trigger watched", "namespace", r.namespace, "scaledObject", r.name, "type", r.typ, "trigger", r.id)
	return t, nil
}

func (s *Server) resolve(ctx context.Context, r request) (map[string]string, error) {
	if r.authRef == "" {
		return nil, nil
	}
	if s.opts.Auth == nil {
		return nil, status.Errorf(codes.FailedPrecondition, "scalerMetadata.%s: no TriggerAuthentication can be read here", KeyAuthenticationRef)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	params, err := s.opts.Auth.Resolve(ctx, r.namespace, r.authRef)
	if err != nil {
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	return params, nil
}

// watch parses and watches t with params; on error nothing stays watched.
func (s *Server) watch(t *trigger, params map[string]string) (sources.Spec, error) {
	st := sources.Trigger{
		Key: t.key, Type: t.req.typ, Metadata: t.req.metadata,
		AuthParams: params, PollingInterval: t.req.polling,
	}
	spec, err := s.opts.Sources.Parse(st)
	if errors.Is(err, sources.ErrUnsupported) {
		return spec, status.Errorf(codes.InvalidArgument, "scalerMetadata.%s %q: not a trigger type pushscale serves", KeyType, t.req.typ)
	}
	if err != nil {
		return spec, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := s.opts.Sources.Watch(st); err != nil {
		s.opts.Sources.Unwatch(t.req.typ, t.key)
		s.opts.Store.Forget(t.key.Owner)
		return spec, status.Error(codes.FailedPrecondition, err.Error())
	}
	return spec, nil
}

// remove unwatches t and ends its streams.
func (s *Server) remove(t *trigger, why string) {
	s.mu.Lock()
	if s.byID[t.req.id] != t {
		s.mu.Unlock()
		return
	}
	delete(s.byID, t.req.id)
	delete(s.byOwner, t.key.Owner)
	if s.perNS[t.req.namespace]--; s.perNS[t.req.namespace] <= 0 {
		delete(s.perNS, t.req.namespace)
	}
	n := len(s.byID)
	s.mu.Unlock()
	close(t.gone)
	s.opts.Sources.Unwatch(t.req.typ, t.key)
	s.opts.Store.Forget(t.key.Owner)
	s.opts.Metrics.setTriggers(n)
	s.log.Info("external scaler trigger unwatched", "namespace", t.req.namespace, "scaledObject", t.req.name, "type", t.req.typ, "trigger", t.req.id, "reason", why)
}

func (s *Server) snapshot() []*trigger {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*trigger, 0, len(s.byID))
	for _, t := range s.byID {
		out = append(out, t)
	}
	return out
}

func (s *Server) removeAll() {
	for _, t := range s.snapshot() {
		s.remove(t, "stopping")
	}
}

// sweepIdle applies the unwatch rule.
func (s *Server) sweepIdle(context.Context) {
	now := s.opts.Clock.Now()
	for _, t := range s.snapshot() {
		if t.idle(now, s.opts.IdleTimeout) {
			s.createMu.Lock()
			if t.idle(s.opts.Clock.Now(), s.opts.IdleTimeout) {
				s.remove(t, "idle")
			}
			s.createMu.Unlock()
		}
	}
}

// refreshAuth reads every trigger's TriggerAuthentication again: changed
// parameters are watched anew, a TriggerAuthentication that can no longer
// be read unwatches its trigger.
func (s *Server) refreshAuth(ctx context.Context) {
	for _, t := range s.snapshot() {
		if t.req.authRef == "" || ctx.Err() != nil {
			continue
		}
		params, err := s.resolve(ctx, t.req)
		s.createMu.Lock()
		switch {
		case ctx.Err() != nil:
		case err != nil:
			s.log.Warn("external scaler trigger's TriggerAuthentication unreadable", "namespace", t.req.namespace, "scaledObject", t.req.name, "trigger", t.req.id, "err", status.Convert(err).Message())
			s.remove(t, "authentication")
		case !maps.Equal(params, t.params):
			if _, err := s.watch(t, params); err != nil {
				s.log.Warn("external scaler trigger refused with its new parameters", "namespace", t.req.namespace, "scaledObject", t.req.name, "trigger", t.req.id, "err", status.Convert(err).Message())
				s.remove(t, "authentication")
			} else {
				t.params = params
			}
		}
		s.createMu.Unlock()
	}
}
