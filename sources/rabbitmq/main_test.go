package rabbitmq

import (
	"os"
	"sync"
	"testing"

	"github.com/pushscale/pushscale/sources/rabbitmq/rabbitmqtest"
)

// srv is the package's shared broker, started by the first test that
// calls needBroker (starting one takes seconds; the config tests and the
// fuzz target need none). Tests that restart a broker start their own.
var (
	srv       *rabbitmqtest.Server
	srvDir    string
	srvErr    error
	startOnce sync.Once
)

// needBroker starts the shared broker once, or fails t.
func needBroker(t *testing.T) {
	t.Helper()
	startOnce.Do(func() {
		if srvDir, srvErr = os.MkdirTemp("", "rabbitmq-test-"); srvErr == nil {
			srv, srvErr = rabbitmqtest.New(srvDir)
		}
	})
	if srvErr != nil {
		t.Fatal(srvErr)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	if srvDir != "" {
		os.RemoveAll(srvDir)
	}
	os.Exit(code)
}
