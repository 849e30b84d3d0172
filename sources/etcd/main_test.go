package etcd

import (
	"os"
	"sync"
	"testing"

	"github.com/pushscale/pushscale/sources/etcd/etcdtest"
)

// srv is the package's shared member (with authentication), started by
// the first test that calls needServer. Tests that restart one start
// their own.
var (
	srv       *etcdtest.Server
	srvErr    error
	startOnce sync.Once
)

func needServer(t *testing.T) *etcdtest.Server {
	t.Helper()
	startOnce.Do(func() { srv, srvErr = etcdtest.New(etcdtest.Options{Auth: true}) })
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
