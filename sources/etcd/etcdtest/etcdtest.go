// Package etcdtest runs a private etcd member, the control plane's cached
// binary (e2e/controlplane builds and caches it; PUSHSCALE_CACHE_DIR or
// ~/.cache/pushscale), for the etcd source's tests, the end-to-end tests
// and the bench. It listens on free loopback ports and keeps its data in
// a temporary directory; it can be stopped and started again on the same
// ports with the same data, as a restart would be. With a password, the
// root user and a user User with read access to every key are created and
// authentication is turned on.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// User is the read-only user of a server with authentication.
const User = "scaler"

// Server is one private etcd member. Its Daemon's Stop stops it (SIGTERM)
// and waits for it; Close also removes its data.
type Server struct {
	*sourcetest.Daemon
	bin          string
	peerPt       int
	rootPassword string
}

// Options configure a Server.
type Options struct {
	// Auth turns authentication on, with a random password for User.
	Auth bool
}

// Start starts a server that is removed when tb ends.
func Start(tb testing.TB, opts Options) *Server {
	tb.Helper()
	return sourcetest.Started(tb, func() (*Server, error) { return New(opts) })
}

// Binary returns the cached etcd binary, building the control plane's
// binaries first if they are missing (minutes, once per machine).
func Binary() (string, error) {
	cache, err := controlplane.DefaultCacheDir()
	if err != nil {
		return "", err
	}
	bins, err := controlplane.EnsureBinaries(context.Background(), cache, nil)
	if err != nil {
		return "", fmt.Errorf("etcdtest: %w", err)
	}
	return bins.Etcd, nil
}

// New starts a member; Close stops it and removes its data.
func New(opts Options) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	d, err := sourcetest.NewDaemon("etcdtest-", syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	s := &Server{Daemon: d, bin: bin}
	if err = s.KeepPort(); err == nil {
		s.peerPt, err = sourcetest.FreePort()
	}
	if err == nil {
		err = s.Start()
	}
	if err == nil && opts.Auth {
		err = s.enableAuth()
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) enableAuth() error {
	password, root := s.NewPassword("etcd-"), sourcetest.Password("root-")
	cli, err := s.client("", "")
	if err != nil {
		return err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", root); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.RoleAdd(ctx, "reader"); return err },
		func() error {
			_, err := cli.RoleGrantPermission(ctx, "reader", "\x00", "\x00", clientv3.PermissionType(clientv3.PermRead))
			return err
		},
		func() error { _, err := cli.UserAdd(ctx, User, password); return err },
		func() error { _, err := cli.UserGrantRole(ctx, User, "reader"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			return fmt.Errorf("etcdtest: enabling authentication: %w", err)
		}
	}
	s.rootPassword = root
	return nil
}

// Start starts the stopped member on its ports and waits until it is
// healthy.
func (s *Server) Start() error {
	client, peer := "http://"+s.Addr(), fmt.Sprintf("http://127.0.0.1:%d", s.peerPt)
	cmd := exec.Command(s.bin, "--name", "default", "--data-dir", filepath.Join(s.Dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer,
		"--listen-metrics-urls", "", "--unsafe-no-fsync", "--log-level", "warn")
	err := s.Launch(cmd, "etcd.log", func() error {
		resp, err := http.Get(client + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(resp.Status)
		}
		return nil
	}, 60*time.Second)
	if err != nil {
		return fmt.Errorf("etcdtest: %w", err)
	}
	return nil
}

// Restart stops the member and starts it again.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// client returns a client as user (none: no authentication).
func (s *Server) client(user, password string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: []string{s.Addr()}, Username: user, Password: password,
		DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// Client returns a client that may write every key (root when
// authentication is on); the caller closes it.
func (s *Server) Client() (*clientv3.Client, error) {
	if s.Password() == "" {
		return s.client("", "")
	}
	return s.client("root", s.rootPassword)
}

// Put sets key to value.
func (s *Server) Put(ctx context.Context, key, value string) error {
	cli, err := s.Client()
	if err != nil {
		return err
	}
	defer cli.Close()
	_, err = cli.Put(ctx, key, value)
	return err
}
