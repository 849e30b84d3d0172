package companion

import (
	"context"
	"crypto/tls"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/webhook"
	"github.com/pushscale/pushscale/store"
)

// harness is a Server over a real store and a sources.Manager with the
// webhook source, whose streams the test posts to.
type harness struct {
	srv    *Server
	st     *store.Store
	hook   *httptest.Server
	client pb.ExternalScalerClient
	addr   string
}

type harnessOptions struct {
	opts Options
	// tls: serve mTLS with these, else plain gRPC.
	serverTLS *tls.Config
}

func newHarness(t *testing.T, ho harnessOptions) *harness {
	t.Helper()
	h := &harness{}
	var srv *Server
	h.st = store.New(func(o store.Owner) {
		if srv != nil {
			srv.Notify(o)
		}
	})
	var hook *webhook.Source
	mgr, err := sources.NewManager(sources.Registry{{
		Name: webhook.Type, Types: []string{webhook.Type}, NeverRead: true,
		New: func(d sources.Deps) sources.Source {
			hook = webhook.New(d.Sink, webhook.Options{Clock: d.Clock, Recheck: d.Recheck})
			return hook
		},
	}}, sources.ManagerOptions{Sink: h.st})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	o := ho.opts
	o.Listener, o.TLS, o.Sources, o.Store = ln, ho.serverTLS, mgr, h.st
	srv = New(o)
	h.srv = srv
	h.hook = httptest.NewServer(hook.Handler())
	t.Cleanup(h.hook.Close)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- mgr.Start(ctx) }()
	go func() { done <- srv.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("stop: %v", err)
			}
		}
	})
	if ho.serverTLS == nil {
		h.client = dial(t, h.addr, insecure.NewCredentials())
	}
	return h
}

func dial(t *testing.T, addr string, creds credentials.TransportCredentials) pb.ExternalScalerClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewExternalScalerClient(conn)
}

// post sets a webhook stream's level.
func (h *harness) post(t *testing.T, ns, stream string, value int) {
	t.Helper()
	resp, err := http.Post(h.hook.URL+"/v1/namespaces/"+ns+"/streams/"+stream, "application/json",
		strings.NewReader(`{"value": `+itoa(value)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST %s/%s: %s", ns, stream, resp.Status)
	}
}

func itoa(v int) string { return big.NewInt(int64(v)).String() }

// webhookRef is a KEDA external-push trigger naming a webhook stream.
func webhookRef(ns, name, stream string) *pb.ScaledObjectRef {
	return &pb.ScaledObjectRef{Namespace: ns, Name: name, ScalerMetadata: map[string]string{
		"scalerAddress": "pushscale.pushscale-system.svc:9443", KeyType: "webhook",
		"stream": stream, "targetValue": "2", "allowUnauthenticated": "true",
	}}
}

// recvWithin receives one message from a stream within d.
func recvWithin[T any](t *testing.T, recv func() (T, error), d time.Duration) T {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	c := make(chan result, 1)
	go func() { v, err := recv(); c <- result{v, err} }()
	select {
	case r := <-c:
		if r.err != nil {
			t.Fatalf("recv: %v", r.err)
		}
		return r.v
	case <-time.After(d):
		t.Fatalf("nothing received within %v", d)
	}
	panic("unreachable")
}
