package postgresql

import (
	"testing"

	"github.com/pushscale/pushscale/sources/postgresql/pgtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// srv is the package's shared server, started by the first test that
// calls needServer. Tests that restart a server start their own.
var srv = sourcetest.NewShared(pgtest.New)

func needServer(t *testing.T) *pgtest.Server { return srv.Get(t) }

func TestMain(m *testing.M) { srv.Main(m) }
