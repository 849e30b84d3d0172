// Package mariadbtest runs a private MariaDB server (the Debian package's
// mariadb-install-db and mariadbd, `make deps` installs them) for the
// mysql source's tests and the end-to-end tests. The server listens on a
// free loopback port and a socket in a temporary directory holding its
// data and log, and has one password-protected user (User) with every
// right on the database DB. MariaDB refuses to run as root: when the test
// runs as root (CI does), both programs run as the user "nobody", the
// directory handed to it. A Server can be stopped and started again on
// the same port with the same data.
package mariadbtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

// The server's user and database; the password is random per Server.
const (
	User = "pushscale"
	DB   = "app"
)

// Server is one private MariaDB server. Its Daemon's Stop stops it
// (SIGTERM) and waits for it; Close also removes its directory.
type Server struct {
	*sourcetest.Daemon
	bin string
}

// Start starts a server that is removed when tb ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	return sourcetest.Started(tb, New)
}

func lookPath(names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
		if p := filepath.Join("/usr/sbin", n); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("mariadbtest: %s not installed (make deps installs mariadb-server)", names[0])
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode()&0o111 != 0
}

// New initialises a data directory, starts the server and creates User
// and DB; Close stops it and removes everything.
func New() (*Server, error) {
	bin, err := lookPath("mariadbd", "mysqld")
	if err != nil {
		return nil, err
	}
	install, err := lookPath("mariadb-install-db", "mysql_install_db")
	if err != nil {
		return nil, err
	}
	d, err := sourcetest.NewDaemon("mariadbtest-", syscall.SIGTERM)
	if err != nil {
		return nil, err
	}
	s := &Server{Daemon: d, bin: bin}
	if err := s.init(install); err != nil {
		os.RemoveAll(d.Dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		os.RemoveAll(d.Dir)
		return nil, err
	}
	if err := s.createUser(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Server) init(install string) error {
	if err := s.Unprivileged(); err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	s.NewPassword("pw-")
	cmd := s.command(install, "--no-defaults", "--datadir="+s.data(), "--auth-root-authentication-method=normal",
		"--skip-test-db", "--skip-name-resolve")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mariadbtest: mariadb-install-db: %w\n%s", err, out)
	}
	return nil
}

func (s *Server) data() string   { return filepath.Join(s.Dir, "data") }
func (s *Server) socket() string { return filepath.Join(s.Dir, "mysqld.sock") }

func (s *Server) command(name string, args ...string) *exec.Cmd {
	return s.Command([]string{"PATH=/usr/sbin:/usr/bin:/bin", "LC_ALL=C"}, name, args...)
}

// Start starts the stopped server, on its earlier port if it had one,
// and waits until it answers.
func (s *Server) Start() error {
	if err := s.KeepPort(); err != nil {
		return err
	}
	logPath := filepath.Join(s.Dir, "error.log")
	cmd := s.command(s.bin, "--no-defaults", "--datadir="+s.data(), "--port="+strconv.Itoa(s.Port()),
		"--bind-address=127.0.0.1", "--socket="+s.socket(), "--pid-file="+filepath.Join(s.Dir, "mysqld.pid"),
		"--log-error="+logPath, "--tmpdir="+s.Dir, "--skip-name-resolve",
		"--innodb-buffer-pool-size=16M", "--innodb-log-file-size=8M", "--innodb-flush-log-at-trx-commit=0",
		"--skip-log-bin", "--max-connections=200")
	err := s.Process.Start(cmd, func() error {
		db, err := s.rootDB()
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Ping()
	}, 60*time.Second, logPath)
	if err != nil {
		return fmt.Errorf("mariadbtest: %w", err)
	}
	return nil
}

// rootDB is root over the socket (root has no password there).
func (s *Server) rootDB() (*sql.DB, error) {
	cfg := driver.NewConfig()
	cfg.User, cfg.Net, cfg.Addr, cfg.Timeout = "root", "unix", s.socket(), 2*time.Second
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(conn), nil
}

func (s *Server) createUser() error {
	db, err := s.rootDB()
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{
		"CREATE DATABASE " + DB,
		"CREATE USER '" + User + "'@'%' IDENTIFIED BY '" + s.Password() + "'",
		"GRANT ALL ON " + DB + ".* TO '" + User + "'@'%'",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("mariadbtest: %w", err)
		}
	}
	return nil
}

// Restart stops the server and starts it again on the same port.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// DSN is a DSN of User on DB over TCP, password included.
func (s *Server) DSN() string {
	return User + ":" + s.Password() + "@tcp(" + s.Addr() + ")/" + DB
}

// Exec runs one statement as User on DB.
func (s *Server) Exec(ctx context.Context, query string, args ...any) error {
	cfg, err := driver.ParseDSN(s.DSN())
	if err != nil {
		return err
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	_, err = db.ExecContext(ctx, query, args...)
	if err != nil {
		return errors.Join(fmt.Errorf("mariadbtest: %s", query), err)
	}
	return nil
}
