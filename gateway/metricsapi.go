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
	// preflight is the request the server's start depends on (the
	// front-proxy settings in kube-system), made by a plain client first:
	// a server whose build fails leaves the library's goroutines behind,
	// so one is built only once the kube-apiserver answers it.
	preflight func(context.Context) error
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
	wait := func(err error) bool {
		m.log.Warn("external metrics API failed; starting it again", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return false
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
		return true
	}
	for {
		if m.preflight != nil {
			if err := m.preflight(ctx); err != nil {
				if ctx.Err() != nil || !wait(err) {
					return nil
				}
				continue
			}
		}
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
		if !wait(err) {
			return nil
		}
	}
}
