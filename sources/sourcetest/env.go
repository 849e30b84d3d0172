package sourcetest

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
)

// Env is a source under test: built on NewDeps (whose Scheduler runs until
// the test ends) with a recording Sink and a debug log, and run with Run
// until the test ends; the log is printed when the test fails.
type Env[S sources.Source] struct {
	Src  S
	Sink *Sink
	Logs *LogBuffer
	T    *testing.T
}

// NewEnv builds the source with newSource, push turned off for the
// trigger types noPush sets, and runs it.
func NewEnv[S sources.Source](t *testing.T, noPush map[string]bool, newSource func(sources.Deps) S) *Env[S] {
	t.Helper()
	e := &Env[S]{T: t, Sink: NewSink(), Logs: &LogBuffer{}}
	d := NewDeps(t, e.Sink)
	d.Logger = DebugLogger(e.Logs)
	d.DisablePush = noPush
	e.Src = newSource(d)
	Run(t, e.Src, e.Logs)
	return e
}

// Watch watches tr; an error fails the test.
func (e *Env[S]) Watch(tr sources.Trigger) {
	e.T.Helper()
	if err := e.Src.Watch(tr); err != nil {
		e.T.Fatalf("Watch = %v", err)
	}
}
