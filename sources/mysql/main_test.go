package mysql

import (
	"testing"

	"github.com/pushscale/pushscale/sources/mysql/mariadbtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// srv is the package's shared server, started by the first test that
// calls needServer.
var srv = sourcetest.NewShared(mariadbtest.New)

func needServer(t *testing.T) *mariadbtest.Server { return srv.Get(t) }

func TestMain(m *testing.M) { srv.Main(m) }
