package clientgo

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"k8s.io/klog/v2"
)

// klogTarget is the handler klog's lines go to, swapped by RouteKlog. It
// is read on every klog line; klog itself is pointed at it once.
var (
	klogOnce   sync.Once
	klogTarget atomic.Pointer[slog.Handler]
)

// idleHandler takes klog's lines while no run has routed them: JSON on
// stderr, the gateway's default format.
var idleHandler slog.Handler = slog.NewJSONHandler(os.Stderr, nil)

// InstallKlog points klog, once per process, at the forwarder RouteKlog
// steers. klog's setters race with any goroutine that logs, so call it at
// process start, before informers or servers run: main does, and so must a
// test main that starts informers before gateway.Run. Later calls do
// nothing.
func InstallKlog() {
	klogOnce.Do(func() {
		klogTarget.Store(&idleHandler)
		klog.SetSlogLogger(slog.New(forwarder{}))
	})
}

// RouteKlog sends klog's output (client-go's and the apiserver library's
// logs) to log, tagged component=klog, until the returned restore is
// called, which puts back whatever was routed before. It installs the
// forwarder if InstallKlog was not called (safe only while nothing logs
// through klog yet); swapping the target is safe at any time. Concurrent
// runs: the latest call wins until it restores.
func RouteKlog(log *slog.Logger) (restore func()) {
	InstallKlog()
	h := log.With("component", "klog").Handler()
	prev := klogTarget.Swap(&h)
	return func() { klogTarget.CompareAndSwap(&h, prev) }
}

// forwarder is a slog.Handler that hands every record to the current
// klogTarget, applying the attributes and groups it was given on the way.
type forwarder struct {
	with []func(slog.Handler) slog.Handler
}

func (f forwarder) target() slog.Handler {
	h := *klogTarget.Load()
	for _, w := range f.with {
		h = w(h)
	}
	return h
}

func (f forwarder) Enabled(ctx context.Context, l slog.Level) bool {
	return f.target().Enabled(ctx, l)
}

func (f forwarder) Handle(ctx context.Context, r slog.Record) error {
	return f.target().Handle(ctx, r)
}

func (f forwarder) WithAttrs(as []slog.Attr) slog.Handler {
	return f.and(func(h slog.Handler) slog.Handler { return h.WithAttrs(as) })
}

func (f forwarder) WithGroup(name string) slog.Handler {
	return f.and(func(h slog.Handler) slog.Handler { return h.WithGroup(name) })
}

func (f forwarder) and(w func(slog.Handler) slog.Handler) forwarder {
	return forwarder{with: append(f.with[:len(f.with):len(f.with)], w)}
}
