package sourcetest

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// Edit returns a copy of m with each key of the pairs kv set to its value;
// the value Absent removes the key. For table tests of metadata.
func Edit(m map[string]string, kv ...string) map[string]string {
	m = maps.Clone(m)
	if m == nil {
		m = map[string]string{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == Absent {
			delete(m, kv[i])
		} else {
			m[kv[i]] = kv[i+1]
		}
	}
	return m
}

// Absent is the value that makes Edit remove a key.
const Absent = "<absent>"

// With is Edit with "-" as the value that removes a key.
func With(base map[string]string, kv ...string) map[string]string {
	kv = append([]string(nil), kv...)
	for i := 1; i < len(kv); i += 2 {
		if kv[i] == "-" {
			kv[i] = Absent
		}
	}
	return Edit(base, kv...)
}

// Watch builds a source with newSource on NewDeps and a fresh Sink,
// watches every trigger, and runs the source until t ends (checking that
// Start then returns nil). It returns the sink.
func Watch(t *testing.T, newSource func(d sources.Deps) sources.Source, triggers ...sources.Trigger) *Sink {
	t.Helper()
	sink := NewSink()
	src := newSource(NewDeps(t, sink))
	for _, tr := range triggers {
		if err := src.Watch(tr); err != nil {
			t.Fatalf("Watch(%s) = %v", tr.Name, err)
		}
	}
	Run(t, src, nil)
	return sink
}

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

// AwaitFail waits for a Fail call whose error contains text and returns
// that error's text; it fails t after WaitTimeout.
func (s *Sink) AwaitFail(t testing.TB, text string) string {
	t.Helper()
	var msg string
	s.Await(t, "a failed read containing "+text, func() bool {
		for _, c := range s.Calls() {
			if c.Op == OpFail && strings.Contains(c.Err, text) {
				msg = c.Err
				return true
			}
		}
		return false
	})
	return msg
}

// AwaitFailOf waits for a Fail call of k and returns its error's text; it
// fails t after WaitTimeout.
func (s *Sink) AwaitFailOf(t testing.TB, k store.Key) string {
	t.Helper()
	var msg string
	s.Await(t, "a failed read", func() bool {
		for _, c := range s.Calls() {
			if c.Key == k && c.Op == OpFail {
				msg = c.Err
				return true
			}
		}
		return false
	})
	return msg
}
