// Package natstest runs a real NATS server with JetStream in the test's
// process (github.com/nats-io/nats-server/v2), on free loopback ports,
// with its monitoring endpoint, for the nats-jetstream source's tests, the
// end-to-end tests and the bench. A Server can be stopped and started
// again on the same ports with the same store, as a restart would.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options configure a Server.
type Options struct {
	// Token, or User and Password, make clients authenticate.
	Token, User, Password string
}

// Server is one embedded NATS server with JetStream.
type Server struct {
	opts server.Options

	mu     sync.Mutex
	srv    *server.Server
	client *nats.Conn
}

// Start starts a server on free loopback ports, stopped when t ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s, err := New(o, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// New starts a server on free loopback ports, storing its streams in dir.
// The caller must call Stop.
func New(o Options, dir string) (*Server, error) {
	s := &Server{opts: server.Options{
		Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1,
		JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true,
		Authorization: o.Token, Username: o.User, Password: o.Password,
	}}
	if err := s.start(); err != nil {
		return nil, err
	}
	a := s.srv.Addr().(*net.TCPAddr)
	s.opts.Port, s.opts.HTTPPort = a.Port, s.srv.MonitorAddr().Port
	return s, nil
}

func (s *Server) start() error {
	opts := s.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		return fmt.Errorf("natstest: %w", err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return errors.New("natstest: server not ready in 10 s")
	}
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	return nil
}

// ClientURL is the nats:// URL of the server.
func (s *Server) ClientURL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.opts.Port) }

// MonitoringEndpoint is the monitoring endpoint's host:port, as KEDA's
// natsServerMonitoringEndpoint names it.
func (s *Server) MonitoringEndpoint() string {
	return "127.0.0.1:" + strconv.Itoa(s.opts.HTTPPort)
}

// Stop shuts the server down (a stopped server stays stopped).
func (s *Server) Stop() {
	s.mu.Lock()
	srv, c := s.srv, s.client
	s.srv, s.client = nil, nil
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	if srv != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
	}
}

// Restart stops the server and starts it again on the same ports with the
// same store: streams, durable consumers and messages survive.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// JetStream returns an administrative client connected to the server
// (with its credentials), for publishing and managing streams.
func (s *Server) JetStream() (jetstream.JetStream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil || s.client.IsClosed() {
		opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond)}
		switch {
		case s.opts.Authorization != "":
			opts = append(opts, nats.Token(s.opts.Authorization))
		case s.opts.Username != "":
			opts = append(opts, nats.UserInfo(s.opts.Username, s.opts.Password))
		}
		c, err := nats.Connect(s.ClientURL(), opts...)
		if err != nil {
			return nil, fmt.Errorf("natstest: connect: %w", err)
		}
		s.client = c
	}
	return jetstream.New(s.client)
}

// CreateStream creates stream over subjects with a durable pull consumer
// consumer (explicit acks) on it.
func (s *Server) CreateStream(ctx context.Context, stream, consumer string, subjects ...string) error {
	js, err := s.JetStream()
	if err != nil {
		return err
	}
	if _, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: subjects}); err != nil {
		return fmt.Errorf("natstest: create stream %s: %w", stream, err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: consumer, AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		return fmt.Errorf("natstest: create consumer %s: %w", consumer, err)
	}
	return nil
}

// Publish publishes n messages to subject and waits for their acks.
func (s *Server) Publish(ctx context.Context, subject string, n int) error {
	js, err := s.JetStream()
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := js.Publish(ctx, subject, []byte("job "+strconv.Itoa(i))); err != nil {
			return fmt.Errorf("natstest: publish: %w", err)
		}
	}
	return nil
}

// Consume fetches up to n messages of consumer and acks them.
func (s *Server) Consume(ctx context.Context, stream, consumer string, n int) error {
	js, err := s.JetStream()
	if err != nil {
		return err
	}
	cons, err := js.Consumer(ctx, stream, consumer)
	if err != nil {
		return fmt.Errorf("natstest: consumer: %w", err)
	}
	batch, err := cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return fmt.Errorf("natstest: fetch: %w", err)
	}
	for m := range batch.Messages() {
		if err := m.Ack(); err != nil {
			return fmt.Errorf("natstest: ack: %w", err)
		}
	}
	return batch.Error()
}
