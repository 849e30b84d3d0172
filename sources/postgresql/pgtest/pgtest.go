// Package pgtest runs a private PostgreSQL server (the Debian package's
// initdb and postgres, `make deps` installs them) for the postgresql
// source's tests, the end-to-end tests and the bench. The server listens
// on a free loopback port, keeps its data, socket and log in a temporary
// directory, and has one password-protected user (User, scram-sha-256)
// owning the database DB. PostgreSQL refuses to run as root: when the
// test runs as root (CI does), initdb and postgres run as the user
// "nobody", the directory handed to it. A Server can be stopped and
// started again on the same port with the same data, as a restart would
// be.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

// The server's user and database; the password is random per Server.
const (
	User = "pushscale"
	DB   = "app"
)

// startTimeout bounds one start of the server.
const startTimeout = 60 * time.Second

// Server is one private PostgreSQL server. Its Daemon's Stop stops it
// with a fast shutdown (clients are disconnected) and waits for it to
// exit; Close also removes its directory.
type Server struct {
	*sourcetest.Daemon
	bin string
}

// Start starts a server that is removed when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return sourcetest.Started(tb, New)
}

// BinDir returns the folder of initdb and postgres: the newest
// /usr/lib/postgresql/*/bin, else the folder of postgres on PATH.
func BinDir() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	sort.Slice(matches, func(i, j int) bool { return version(matches[i]) < version(matches[j]) })
	if len(matches) > 0 {
		return filepath.Dir(matches[len(matches)-1]), nil
	}
	if p, err := exec.LookPath("postgres"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("pgtest: postgres and initdb not installed (make deps installs postgresql)")
}

func version(p string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(p))))
	return n
}

// New initialises a data directory and starts the server; Close stops it
// and removes everything.
func New() (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	d, err := sourcetest.NewDaemon("pgtest-", syscall.SIGINT)
	if err != nil {
		return nil, err
	}
	s := &Server{Daemon: d, bin: bin}
	if err := s.init(); err != nil {
		os.RemoveAll(d.Dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(d.Dir)
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, s.url("postgres"))
	if err == nil {
		_, err = c.Exec(ctx, "CREATE DATABASE "+DB)
		_ = c.Close(ctx)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("pgtest: creating database %s: %w", DB, err)
	}
	return s, nil
}

// init creates the data directory as the user the server runs as.
func (s *Server) init() error {
	if err := s.Unprivileged(); err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	s.NewPassword("pw-")
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password()+"\n"), 0o644); err != nil {
		return err
	}
	cmd := s.command(filepath.Join(s.bin, "initdb"), "-D", s.data(), "-U", User, "--pwfile", pwfile,
		"--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync")
	out, err := cmd.CombinedOutput()
	_ = os.Remove(pwfile)
	if err != nil {
		return fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	return nil
}

func (s *Server) data() string { return filepath.Join(s.Dir, "data") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	return s.Command([]string{"PATH=/usr/bin:/bin", "LC_ALL=C"}, name, args...)
}

// Start starts the stopped server, on its earlier port if it had one,
// and waits until it answers.
func (s *Server) Start() error {
	if err := s.KeepPort(); err != nil {
		return err
	}
	cmd := s.command(filepath.Join(s.bin, "postgres"), "-D", s.data(), "-p", strconv.Itoa(s.Port()),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+s.Dir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "dynamic_shared_memory_type=mmap", "-c", "shared_buffers=16MB", "-c", "max_connections=200")
	err := s.Launch(cmd, "postgres.log", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, s.url("postgres"))
		if err == nil {
			_ = c.Close(ctx)
		}
		return err
	}, startTimeout)
	if err != nil {
		return fmt.Errorf("pgtest: %w", err)
	}
	return nil
}

// Restart stops the server and starts it again on the same port.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// URL is a connection URL of User to DB, password included.
func (s *Server) URL() string { return s.url(DB) }

func (s *Server) url(db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", User, s.Password(), s.Addr(), db)
}

// Exec runs SQL statements as User on DB.
func (s *Server) Exec(ctx context.Context, sql string, args ...any) error {
	c, err := pgx.Connect(ctx, s.URL())
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	_, err = c.Exec(ctx, sql, args...)
	return err
}
