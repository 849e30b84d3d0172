package postgresql

import (
	"os"
	"sync"
	"testing"

	"github.com/pushscale/pushscale/sources/postgresql/pgtest"
)

// srv is the package's shared server, started by the first test that
// calls needServer. Tests that restart a server start their own.
var (
	srv       *pgtest.Server
	srvErr    error
	startOnce sync.Once
)

func needServer(t *testing.T) *pgtest.Server {
	t.Helper()
	startOnce.Do(func() { srv, srvErr = pgtest.New() })
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
