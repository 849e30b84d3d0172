package sourcetest

import (
	"context"
	"log/slog"
	"testing"
)

// Run runs src.Start until t ends, then checks that it returned nil; when
// t failed, what logs holds (nil: nothing) is printed. Tests that watch
// real brokers start their source with it.
func Run(t testing.TB, src interface{ Start(context.Context) error }, logs *LogBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Start = %v", err)
		}
		if t.Failed() && logs != nil {
			t.Logf("source log:\n%s", logs)
		}
	})
}

// DebugLogger is a text logger at debug level writing to logs.
func DebugLogger(logs *LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// With returns a copy of base with kv (key, value, key, value, ...) set;
// the value "-" removes the key. Config tables build their cases with it.
func With(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "-" {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}
