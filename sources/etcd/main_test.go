package etcd

import (
	"testing"

	"github.com/pushscale/pushscale/sources/etcd/etcdtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// srv is the package's shared member (with authentication), started by
// the first test that calls needServer. Tests that restart one start
// their own.
var srv = sourcetest.NewShared(func() (*etcdtest.Server, error) { return etcdtest.New(etcdtest.Options{Auth: true}) })

func needServer(t *testing.T) *etcdtest.Server { return srv.Get(t) }

func TestMain(m *testing.M) { srv.Main(m) }
