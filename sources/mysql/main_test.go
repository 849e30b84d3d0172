package mysql

import (
	"os"
	"sync"
	"testing"

	"github.com/pushscale/pushscale/sources/mysql/mariadbtest"
)

// srv is the package's shared server, started by the first test that
// calls needServer.
var (
	srv       *mariadbtest.Server
	srvErr    error
	startOnce sync.Once
)

func needServer(t *testing.T) *mariadbtest.Server {
	t.Helper()
	startOnce.Do(func() { srv, srvErr = mariadbtest.New() })
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	return srv
}

func TestMain(m *testing.M) {
	code := m.Run()
	if srv != nil {
		srv.Close()
	}
	os.Exit(code)
}
