// Package rabbitmqtest runs a private rabbitmq-server (the Debian package's,
// `make deps` installs it) with the management plugin, for the rabbitmq
// source's tests, the end-to-end tests and the bench. Everything of the
// server is its own: a unique node name, free loopback ports for AMQP, the
// management API, Erlang distribution and its own epmd, a generated config
// file, its data, logs and Erlang cookie in a temporary directory. The
// machine's own RabbitMQ (5672, 15672, 4369) is never touched. A Server can
// be stopped and started again on the same ports with the same data, as a
// broker restart would be. Starting takes 5–15 s on two cores: share one
// Server per test package (TestMain) where possible.
package rabbitmqtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// The server's user; its password is random per Server (Password).
const User = "pushscale"

// startTimeout bounds one start of the server.
const startTimeout = 90 * time.Second

// Server is one private rabbitmq-server.
type Server struct {
	dir                                    string
	env                                    []string
	password                               string
	node                                   string
	amqpPort, mgmtPort, distPort, epmdPort int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
	conn *amqp.Connection
}

// Start starts a server that stops when tb ends (tb.TempDir holds its
// data).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Binary is the rabbitmq-server script run; the Debian package's.
func Binary() (string, error) {
	matches, _ := filepath.Glob("/usr/lib/rabbitmq/lib/rabbitmq_server-*/sbin/rabbitmq-server")
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	if p, err := exec.LookPath("rabbitmq-server"); err == nil {
		return p, nil
	}
	return "", errors.New("rabbitmqtest: rabbitmq-server not installed (make deps installs it)")
}

// New starts a server keeping its data under dir (outside a test: the
// bench, TestMain); Close stops it.
func New(dir string) (*Server, error) {
	if _, err := Binary(); err != nil {
		return nil, err
	}
	ports, err := freePorts(4)
	if err != nil {
		return nil, err
	}
	s := &Server{
		dir: dir, password: random(12), node: "pushscale-" + random(6) + "@localhost",
		amqpPort: ports[0], mgmtPort: ports[1], distPort: ports[2], epmdPort: ports[3],
	}
	if err := s.writeFiles(); err != nil {
		return nil, err
	}
	s.env = append(os.Environ(),
		"RABBITMQ_NODENAME="+s.node,
		"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
		"RABBITMQ_NODE_PORT="+strconv.Itoa(s.amqpPort),
		"RABBITMQ_DIST_PORT="+strconv.Itoa(s.distPort),
		"ERL_EPMD_PORT="+strconv.Itoa(s.epmdPort),
		"ERL_EPMD_ADDRESS=127.0.0.1",
		"RABBITMQ_CONFIG_FILE="+filepath.Join(dir, "rabbitmq.conf"),
		"RABBITMQ_ADVANCED_CONFIG_FILE="+filepath.Join(dir, "advanced.config"),
		"RABBITMQ_CONF_ENV_FILE="+filepath.Join(dir, "rabbitmq-env.conf"),
		"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
		"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
		"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
		"RABBITMQ_PID_FILE="+filepath.Join(dir, "rabbit.pid"),
		"RABBITMQ_LOGS="+filepath.Join(dir, "log", "rabbit.log"),
		"HOME="+filepath.Join(dir, "home"),
	)
	if err := s.Restart(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// writeFiles writes the config, the plugins file and the home directory.
func (s *Server) writeFiles() error {
	conf := strings.Join([]string{
		"listeners.tcp.default = 127.0.0.1:" + strconv.Itoa(s.amqpPort),
		"management.tcp.ip = 127.0.0.1",
		"management.tcp.port = " + strconv.Itoa(s.mgmtPort),
		"default_user = " + User,
		"default_pass = " + s.password,
		"default_vhost = /",
		"default_user_tags.administrator = true",
		"default_permissions.configure = .*",
		"default_permissions.read = .*",
		"default_permissions.write = .*",
		"loopback_users = none",
		// Management statistics every second (default 5 s): the rate and
		// HTTP-mode tests wait for them.
		"collect_statistics_interval = 1000",
		"management.rates_mode = basic",
		"log.console = false",
		"log.file.level = warning",
		"",
	}, "\n")
	files := map[string]string{
		"rabbitmq.conf":     conf,
		"advanced.config":   "[].\n",
		"rabbitmq-env.conf": "",
		"enabled_plugins":   "[rabbitmq_management].\n",
	}
	for _, d := range []string{"home", "log", "mnesia"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o700); err != nil {
			return fmt.Errorf("rabbitmqtest: %w", err)
		}
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(s.dir, name), []byte(text), 0o600); err != nil {
			return fmt.Errorf("rabbitmqtest: %w", err)
		}
	}
	return nil
}

// Restart starts the server (again, after Stop) on the same ports with the
// same data and waits until AMQP and the management API answer.
func (s *Server) Restart() error {
	bin, err := Binary()
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return errors.New("rabbitmqtest: already running")
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "server.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.mu.Unlock()
		return fmt.Errorf("rabbitmqtest: %w", err)
	}
	cmd := exec.Command(bin)
	cmd.Env = s.env
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		logf.Close()
		return fmt.Errorf("rabbitmqtest: starting %s: %w", bin, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			return fmt.Errorf("rabbitmqtest: server exited while starting (see %s): %w", filepath.Join(s.dir, "server.out"), err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rabbitmqtest: not ready after %s: %w", startTimeout, err)
		}
	}
}

// ping checks that AMQP and the management API answer.
func (s *Server) ping() error {
	c, err := amqp.DialConfig(s.URL(), amqp.Config{Dial: amqp.DefaultDial(time.Second)})
	if err != nil {
		return err
	}
	c.Close()
	_, err = s.API(http.MethodGet, "/api/overview", nil)
	return err
}

// Stop stops the server cleanly (SIGTERM to its process group) and waits
// for it; Restart starts it again.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done, conn := s.cmd, s.done, s.conn
	s.cmd, s.conn = nil, nil
	s.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// Close stops the server and its epmd.
func (s *Server) Close() {
	s.Stop()
	// The node started a private epmd on ERL_EPMD_PORT; it outlives the
	// node unless told.
	if epmd, err := exec.LookPath("epmd"); err == nil {
		cmd := exec.Command(epmd, "-port", strconv.Itoa(s.epmdPort), "-kill")
		cmd.Env = s.env
		_ = cmd.Run()
	}
}

// Password is the password of User.
func (s *Server) Password() string { return s.password }

// Addr is the AMQP listener, host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.amqpPort) }

// URL is the AMQP URL of vhost "/" with User's credentials.
func (s *Server) URL() string {
	return "amqp://" + User + ":" + s.password + "@" + s.Addr() + "/"
}

// MgmtAddr is the management API listener, host:port.
func (s *Server) MgmtAddr() string { return "127.0.0.1:" + strconv.Itoa(s.mgmtPort) }

// API sends a request to the management API as User and returns the body;
// a status other than 2xx is an error.
func (s *Server) API(method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = strings.NewReader(string(b))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.MgmtAddr()+path, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(User, s.password)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return out, fmt.Errorf("rabbitmqtest: %s %s: %s", method, path, resp.Status)
	}
	return out, nil
}

// AddVhost creates vhost with every permission for User.
func (s *Server) AddVhost(vhost string) error {
	v := url.PathEscape(vhost)
	if _, err := s.API(http.MethodPut, "/api/vhosts/"+v, map[string]any{}); err != nil {
		return err
	}
	_, err := s.API(http.MethodPut, "/api/permissions/"+v+"/"+User, map[string]string{"configure": ".*", "write": ".*", "read": ".*"})
	return err
}

// Channel returns a new channel on a connection of the server's own (to
// vhost "/"), created on first use. The caller closes the channel.
func (s *Server) Channel() (*amqp.Channel, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil || s.conn.IsClosed() {
		c, err := amqp.Dial(s.URL())
		if err != nil {
			return nil, err
		}
		s.conn = c
	}
	return s.conn.Channel()
}

// Setup runs f on a fresh channel and closes it.
func (s *Server) Setup(f func(ch *amqp.Channel) error) error {
	ch, err := s.Channel()
	if err != nil {
		return err
	}
	defer ch.Close()
	return f(ch)
}

// Declare declares a durable queue and, unless exchange is empty, a
// durable direct exchange it is bound to with routingKey.
func (s *Server) Declare(queue, exchange, routingKey string) error {
	return s.Setup(func(ch *amqp.Channel) error {
		if _, err := ch.QueueDeclare(queue, true, false, false, false, nil); err != nil {
			return err
		}
		if exchange == "" {
			return nil
		}
		if err := ch.ExchangeDeclare(exchange, "direct", true, false, false, false, nil); err != nil {
			return err
		}
		return ch.QueueBind(queue, routingKey, exchange, false, nil)
	})
}

// Publish publishes n persistent messages to exchange with routing key
// (body "0", "1", ...) and waits for the broker's confirms.
func (s *Server) Publish(exchange, key string, n int) error {
	return s.Setup(func(ch *amqp.Channel) error {
		if err := ch.Confirm(false); err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var confs []*amqp.DeferredConfirmation
		for i := range n {
			c, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, false, false,
				amqp.Publishing{DeliveryMode: amqp.Persistent, Body: []byte(strconv.Itoa(i))})
			if err != nil {
				return err
			}
			confs = append(confs, c)
		}
		for _, c := range confs {
			if ok, err := c.WaitContext(ctx); err != nil || !ok {
				return fmt.Errorf("rabbitmqtest: publish not confirmed: %v", err)
			}
		}
		return nil
	})
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("rabbitmqtest: %w", err)
		}
		lns = append(lns, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}
