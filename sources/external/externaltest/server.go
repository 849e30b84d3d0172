// Package externaltest is an external scaler for tests and benchmarks: a
// gRPC server of KEDA's external scaler protocol on a loopback port, whose
// metric value and activity the test sets, and which streams its activity
// to every open StreamIsActive. It can be stopped and started again on
// the same port (a scaler restart), and serve TLS.
package externaltest

import (
	"context"
	"crypto/tls"
	"fmt"
	"maps"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/pushscale/pushscale/api/externalscaler"
)

// Options shape a Server. The zero value serves metric "queue" with
// target 5 over plain gRPC.
type Options struct {
	// MetricName and Target are GetMetricSpec's answer (targetSizeFloat
	// and targetSize both filled, as the reference asks of a scaler).
	MetricName string
	Target     float64
	// TLS, when set, is the server's TLS configuration.
	TLS *tls.Config
	// NoStream makes StreamIsActive answer Unimplemented.
	NoStream bool
	// IntOnly leaves the float fields 0, as a scaler built before KEDA
	// 2.17 does: integers only.
	IntOnly bool
}

// state is what the scaler says of one ScaledObject.
type state struct {
	value  float64
	active bool
}

// Server is a running external scaler. Its methods are safe for
// concurrent use.
type Server struct {
	pb.UnimplementedExternalScalerServer
	opts Options
	addr string

	mu      sync.Mutex
	gs      *grpc.Server
	done    chan struct{} // closed when Serve of gs returns
	value   float64
	active  bool
	objects map[string]state     // by ScaledObject name: what SetFor and PushTo set
	streams map[chan bool]string // open streams, by the name they asked for
	calls   map[string]int
	names   []string // metric names GetMetrics was asked for
	meta    map[string]string
}

// Start serves on 127.0.0.1 at a free port until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := New("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// New serves on addr (a loopback host:port; port 0 picks one).
func New(addr string, opts Options) (*Server, error) {
	if opts.MetricName == "" {
		opts.MetricName = "queue"
	}
	if opts.Target == 0 {
		opts.Target = 5
	}
	s := &Server{opts: opts, addr: addr, objects: make(map[string]state), streams: make(map[chan bool]string), calls: make(map[string]int)}
	if err := s.Restart(); err != nil {
		return nil, err
	}
	return s, nil
}

// Addr is the host:port served.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Restart serves again on the same address after Stop; nothing when
// serving.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gs != nil {
		return nil
	}
	lis, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("externaltest: listen: %w", err)
	}
	s.addr = lis.Addr().String()
	var opts []grpc.ServerOption
	if s.opts.TLS != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(s.opts.TLS)))
	}
	gs := grpc.NewServer(opts...)
	pb.RegisterExternalScalerServer(gs, s)
	done := make(chan struct{})
	s.gs, s.done = gs, done
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	return nil
}

// Stop closes the listener and every connection and stream at once (the
// scaler going away); Restart serves again.
func (s *Server) Stop() {
	s.mu.Lock()
	gs, done := s.gs, s.done
	s.gs = nil
	s.mu.Unlock()
	if gs != nil {
		gs.Stop()
		<-done
	}
}

// Set sets the metric value and the activity of every ScaledObject
// without telling any stream.
func (s *Server) Set(value float64, active bool) {
	s.mu.Lock()
	s.value, s.active = value, active
	clear(s.objects)
	s.mu.Unlock()
}

// Push is Set, then the activity sent on every open stream.
func (s *Server) Push(value float64, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.value, s.active = value, active
	clear(s.objects)
	for ch := range s.streams {
		send(ch, active)
	}
}

// SetFor sets the metric value and the activity of ScaledObject name
// only, without telling its streams.
func (s *Server) SetFor(name string, value float64, active bool) {
	s.mu.Lock()
	s.objects[name] = state{value, active}
	s.mu.Unlock()
}

// PushTo is SetFor, then the activity sent on the streams of name.
func (s *Server) PushTo(name string, value float64, active bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.objects[name] = state{value, active}
	for ch, n := range s.streams {
		if n == name {
			send(ch, active)
		}
	}
}

// send puts active on ch, replacing a value the stream has not sent yet:
// a stream that is behind sends the latest. Called with s.mu held, the
// only sender.
func send(ch chan bool, active bool) {
	select {
	case <-ch:
	default:
	}
	ch <- active
}

// of returns what the scaler says of ScaledObject name.
func (s *Server) of(name string) state {
	if st, ok := s.objects[name]; ok {
		return st
	}
	return state{s.value, s.active}
}

// Streams is the number of open StreamIsActive calls.
func (s *Server) Streams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.streams)
}

// Calls is the number of calls of method (IsActive, GetMetrics, ...).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// MetricNames are the metric names GetMetrics was asked for (the first
// thousand).
func (s *Server) MetricNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...)
}

// Metadata is the scalerMetadata of the last request.
func (s *Server) Metadata() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.meta)
}

func (s *Server) called(method string, ref *pb.ScaledObjectRef) {
	s.calls[method]++
	s.meta = maps.Clone(ref.GetScalerMetadata())
}

// IsActive answers the activity set.
func (s *Server) IsActive(_ context.Context, ref *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("IsActive", ref)
	return &pb.IsActiveResponse{Result: s.of(ref.GetName()).active}, nil
}

// StreamIsActive sends the activity on every Push until the client goes
// or the server stops.
func (s *Server) StreamIsActive(ref *pb.ScaledObjectRef, st grpc.ServerStreamingServer[pb.IsActiveResponse]) error {
	if s.opts.NoStream {
		return s.UnimplementedExternalScalerServer.StreamIsActive(ref, st)
	}
	ch := make(chan bool, 1)
	s.mu.Lock()
	s.called("StreamIsActive", ref)
	s.streams[ch] = ref.GetName()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.streams, ch)
		s.mu.Unlock()
	}()
	for {
		select {
		case <-st.Context().Done():
			return nil
		case active := <-ch:
			if err := st.Send(&pb.IsActiveResponse{Result: active}); err != nil {
				return err
			}
		}
	}
}

// GetMetricSpec answers the metric name and target of Options.
func (s *Server) GetMetricSpec(_ context.Context, ref *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("GetMetricSpec", ref)
	spec := &pb.MetricSpec{MetricName: s.opts.MetricName, TargetSize: int64(s.opts.Target), TargetSizeFloat: s.opts.Target}
	if s.opts.IntOnly {
		spec.TargetSizeFloat = 0
	}
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{spec}}, nil
}

// GetMetrics answers the value set, as float and as integer.
func (s *Server) GetMetrics(_ context.Context, req *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.called("GetMetrics", req.GetScaledObjectRef())
	if len(s.names) < 1000 {
		s.names = append(s.names, req.GetMetricName())
	}
	value := s.of(req.GetScaledObjectRef().GetName()).value
	v := &pb.MetricValue{MetricName: req.GetMetricName(), MetricValue: int64(value), MetricValueFloat: value}
	if s.opts.IntOnly {
		v.MetricValueFloat = 0
	}
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{v}}, nil
}
