package companion

import (
	"context"
	"math"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/pushscale/pushscale/api/externalscaler"
)

// IsActive answers from memory whether the trigger is active.
func (s *Server) IsActive(ctx context.Context, ref *pb.ScaledObjectRef) (*pb.IsActiveResponse, error) {
	t, err := s.acquire(ctx, ref)
	if err != nil {
		return nil, err
	}
	active, err := t.active(s.opts.Store)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &pb.IsActiveResponse{Result: active}, nil
}

// GetMetricSpec names the trigger's metric (without the "sN-" prefix)
// and its target, in both the integer and the float field.
func (s *Server) GetMetricSpec(ctx context.Context, ref *pb.ScaledObjectRef) (*pb.GetMetricSpecResponse, error) {
	t, err := s.acquire(ctx, ref)
	if err != nil {
		return nil, err
	}
	return specOf(t), nil
}

func specOf(t *trigger) *pb.GetMetricSpecResponse {
	return &pb.GetMetricSpecResponse{MetricSpecs: []*pb.MetricSpec{{
		MetricName: t.metricName(), TargetSize: toInt(t.spec.Target), TargetSizeFloat: t.spec.Target,
	}}}
}

// GetMetrics answers the trigger's value from memory, for its metric's
// name in any case, with or without the prefix, or an empty name (all).
func (s *Server) GetMetrics(ctx context.Context, req *pb.GetMetricsRequest) (*pb.GetMetricsResponse, error) {
	t, err := s.acquire(ctx, req.GetScaledObjectRef())
	if err != nil {
		return nil, err
	}
	if !t.matches(req.GetMetricName()) {
		return nil, status.Errorf(codes.NotFound, "metricName %q: this trigger's metric is %q", clip(req.GetMetricName()), t.metricName())
	}
	e, err := t.entry(s.opts.Store)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &pb.GetMetricsResponse{MetricValues: []*pb.MetricValue{{
		MetricName: t.metricName(), MetricValue: toInt(e.Value), MetricValueFloat: e.Value,
	}}}, nil
}

// StreamIsActive sends the trigger's activity as soon as it is known and
// then each change of it, woken by the store (Notify).
func (s *Server) StreamIsActive(ref *pb.ScaledObjectRef, stream grpc.ServerStreamingServer[pb.IsActiveResponse]) error {
	ctx := stream.Context()
	t, release, err := s.openStream(ctx, ref)
	if err != nil {
		return err
	}
	defer release()
	woken, cancel := t.subscribe(s.opts.Clock.Now())
	defer func() { cancel(s.opts.Clock.Now()) }()
	sent, last := false, false
	for {
		if active, err := t.active(s.opts.Store); err == nil && (!sent || active != last) {
			if err := stream.Send(&pb.IsActiveResponse{Result: active}); err != nil {
				return err
			}
			sent, last = true, active
		}
		select {
		case <-woken:
		case <-t.gone:
			return status.Error(codes.Unavailable, "trigger no longer watched: open the stream again")
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		}
	}
}

// StreamMetricSpec sends the trigger's spec at once and keeps the stream
// open until the caller or the trigger goes: the spec of a trigger never
// changes (its metadata is its identity).
func (s *Server) StreamMetricSpec(ref *pb.ScaledObjectRef, stream grpc.ServerStreamingServer[pb.GetMetricSpecResponse]) error {
	ctx := stream.Context()
	t, release, err := s.openStream(ctx, ref)
	if err != nil {
		return err
	}
	defer release()
	_, cancel := t.subscribe(s.opts.Clock.Now())
	defer func() { cancel(s.opts.Clock.Now()) }()
	if err := stream.Send(specOf(t)); err != nil {
		return err
	}
	select {
	case <-t.gone:
		return status.Error(codes.Unavailable, "trigger no longer watched: open the stream again")
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

// openStream acquires the trigger of a new stream within MaxStreams.
func (s *Server) openStream(ctx context.Context, ref *pb.ScaledObjectRef) (*trigger, func(), error) {
	s.mu.Lock()
	if s.streams >= s.opts.MaxStreams {
		n := s.streams
		s.mu.Unlock()
		return nil, nil, status.Errorf(codes.ResourceExhausted, "%d streams open, the most this pushscale allows", n)
	}
	s.streams++
	s.mu.Unlock()
	release := func() {
		s.mu.Lock()
		s.streams--
		s.mu.Unlock()
	}
	t, err := s.acquire(ctx, ref)
	if err != nil {
		release()
		return nil, nil, err
	}
	return t, release, nil
}

// toInt is the deprecated integer field of v: rounded, within int64.
func toInt(v float64) int64 {
	switch {
	case math.IsNaN(v):
		return 0
	case v >= math.MaxInt64:
		return math.MaxInt64
	case v <= math.MinInt64:
		return math.MinInt64
	}
	return int64(math.Round(v))
}
