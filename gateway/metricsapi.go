package gateway

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/pushscale/pushscale/metricsapi"
)

// metricsAPI runs the external metrics API server and starts it again
// when it fails for a reason other than its port: the server needs the
// kube-apiserver at start (delegated authentication), and an apiserver
// that is briefly unreachable must not stop the gateway.
type metricsAPI struct {
	opts   metricsapi.Options
	values metricsapi.Values
	log    *slog.Logger
	cur    atomic.Pointer[metricsapi.Server]
}

// Addr is the serving address, "" while not serving.
func (m *metricsAPI) Addr() string {
	if s := m.cur.Load(); s != nil {
		return s.Addr()
	}
	return ""
}

func (m *metricsAPI) Start(ctx context.Context) error {
	delay := time.Second
	for {
		srv, err := metricsapi.New(m.opts, m.values)
		if err != nil {
			return err // bad options: nothing to retry
		}
		m.cur.Store(srv)
		err = srv.Start(ctx)
		m.cur.Store(nil)
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if opErr := (*net.OpError)(nil); errors.As(err, &opErr) && opErr.Op == "listen" {
			return err // --metrics-api-addr cannot be had
		}
		m.log.Warn("external metrics API failed; starting it again", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}
