package external

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// serviceConfig is KEDA's: round robin over the addresses the name
// resolves to.
const serviceConfig = `{"loadBalancingConfig": [{"round_robin":{}}]}`

// dial makes the gRPC connection of c. grpc.NewClient does no I/O: the
// connection is made by the first call.
func dial(c Config) (*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	tc, err := c.tlsConfig()
	if err != nil {
		return nil, err
	}
	if tc != nil {
		creds = credentials.NewTLS(tc)
	}
	conn, err := grpc.NewClient(c.ScalerAddress, grpc.WithTransportCredentials(creds), grpc.WithDefaultServiceConfig(serviceConfig))
	if err != nil {
		return nil, fmt.Errorf("%s: scalerAddress %q: %w", c.Type, c.ScalerAddress, err)
	}
	return conn, nil
}

// ref is the ScaledObjectRef of every request of c.
func ref(c Config) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Name: c.Name, Namespace: c.Namespace, ScalerMetadata: c.ScalerMetadata()}
}

// rpcError is err of call to c's scaler, its gRPC status (the scaler's
// words or grpc's, never a secret of ours) wrapped.
func rpcError(c Config, call string, err error) error {
	return fmt.Errorf("%s: %s of scalerAddress %s: %w", c.Type, call, c.ScalerAddress, err)
}

// endpoint is one gRPC connection (address and TLS settings), shared by
// every trigger that names them. Its push path (Run) keeps one
// StreamIsActive per external-push resource; external resources are only
// polled by the Scheduler.
type endpoint struct {
	s      *Source
	id     string
	conn   *grpc.ClientConn
	client pb.ExternalScalerClient
	wake   sources.Wake

	mu        sync.Mutex
	resources map[*resource]bool
}

func newEndpoint(s *Source, id string, c Config) (*endpoint, error) {
	conn, err := dial(c)
	if err != nil {
		return nil, err
	}
	e := &endpoint{s: s, id: id, conn: conn, client: pb.NewExternalScalerClient(conn), wake: sources.NewWake(), resources: make(map[*resource]bool)}
	s.mu.Lock()
	s.live[id] = e
	s.mu.Unlock()
	return e, nil
}

// Add and Remove track the resources for Run; they never block.
func (e *endpoint) Add(r *resource) {
	e.mu.Lock()
	e.resources[r] = true
	e.mu.Unlock()
	e.wake.Wake()
}

func (e *endpoint) Remove(r *resource) {
	e.mu.Lock()
	delete(e.resources, r)
	e.mu.Unlock()
	e.s.forgetSpec(r.id)
	e.wake.Wake()
}

// Close closes the connection; reads in flight fail.
func (e *endpoint) Close() {
	e.s.mu.Lock()
	if e.s.live[e.id] == e {
		delete(e.s.live, e.id)
	}
	e.s.mu.Unlock()
	_ = e.conn.Close()
}

// follower is the stream goroutine of one resource.
type follower struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// Run reports the push health of external resources (NotSupported: they
// are polled) and runs one stream per external-push resource (follow),
// started and stopped as resources come and go, until ctx is done; it
// waits for every stream before it returns.
func (e *endpoint) Run(ctx context.Context) {
	streams := make(map[*resource]follower)
	reported := make(map[*resource]bool)
	defer func() {
		for _, f := range streams {
			f.cancel()
		}
		for _, f := range streams {
			<-f.done
		}
	}()
	pushOff := e.s.d.PushDisabled(TypePush)
	for {
		e.mu.Lock()
		want := make(map[*resource]bool, len(e.resources))
		for r := range e.resources {
			want[r] = true
		}
		e.mu.Unlock()
		for r, f := range streams {
			if !want[r] {
				f.cancel()
				<-f.done
				delete(streams, r)
			}
		}
		for r := range reported {
			if !want[r] {
				delete(reported, r)
			}
		}
		for r := range want {
			switch {
			case !r.push && !reported[r]:
				e.s.d.Scheduler.SetPush(e.id, r.id.Name, store.Push{Reason: ReasonNotSupported,
					Message: "external triggers are polled every pollingInterval, as KEDA does: use external-push for a scaler that streams its activity"})
				reported[r] = true
			case r.push && pushOff && !reported[r]:
				e.s.d.Scheduler.SetPush(e.id, r.id.Name, store.Push{Reason: ReasonDisabledByConfig,
					Message: "push disabled for external-push (--disable-push): polled every pollingInterval"})
				reported[r] = true
			case r.push && !pushOff && streams[r].done == nil:
				fctx, cancel := context.WithCancel(ctx)
				f := follower{cancel: cancel, done: make(chan struct{})}
				streams[r] = f
				go func() {
					defer close(f.done)
					e.follow(fctx, r)
				}()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		}
	}
}

// isUnimplemented reports whether err says the scaler lacks the call.
func isUnimplemented(err error) bool { return status.Code(err) == codes.Unimplemented }
