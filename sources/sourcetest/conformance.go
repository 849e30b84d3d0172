package sourcetest

import (
	"context"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/clock"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/store"
)

// quiet is how long a check waits for something that must not happen.
const quiet = 100 * time.Millisecond

// Conformance runs, as subtests of t, the checks every source must pass:
//
//   - Parse accepts trigger and calls nothing on the sink;
//   - Start blocks until its context is cancelled, then returns nil;
//   - once Start has returned, nothing is recorded, whatever is called;
//   - the errors of Parse and Watch, for trigger spoilt in every way tried,
//     never contain a value of its AuthParams or ResolvedEnv.
//
// newSource returns a fresh source built with d (see NewDeps: its Scheduler
// runs until the subtest ends, writing to the recording sink d.Sink).
// trigger must be a valid
// trigger of the source's type; give it AuthParams with secret-looking
// values (at least 4 characters) so that the last check means something.
func Conformance(t *testing.T, newSource func(d sources.Deps) sources.Source, trigger sources.Trigger) {
	t.Helper()
	t.Run("ParseValid", func(t *testing.T) {
		sink := NewSink()
		src := newSource(NewDeps(t, sink))
		if _, err := src.Parse(trigger); err != nil {
			t.Fatalf("Parse(valid trigger) = %v", err)
		}
		if n := sink.Len(); n != 0 {
			t.Errorf("Parse made %d sink calls, want none: %v", n, sink.Calls())
		}
	})
	t.Run("StartBlocksUntilCancel", func(t *testing.T) {
		src := newSource(NewDeps(t, NewSink()))
		if err := src.Watch(trigger); err != nil {
			t.Fatalf("Watch = %v", err)
		}
		stop := start(t, src)
		stop()
	})
	t.Run("NothingRecordedAfterStartReturns", func(t *testing.T) {
		sink := NewSink()
		src := newSource(NewDeps(t, sink))
		if err := src.Watch(trigger); err != nil {
			t.Fatalf("Watch = %v", err)
		}
		stop := start(t, src)
		stop()
		sink.Seal()
		other := trigger
		other.Key.Trigger++
		_ = src.Watch(trigger)
		_ = src.Watch(other)
		src.Unwatch(trigger.Key)
		src.Unwatch(other.Key)
		_, _ = src.Parse(trigger)
		time.Sleep(quiet) // give a stray goroutine the chance to show itself
		if late := sink.Late(); len(late) > 0 {
			t.Errorf("sink called after Start returned: %v", late)
		}
	})
	t.Run("ErrorsHideSecrets", func(t *testing.T) {
		secrets := secretsOf(trigger)
		if len(secrets) == 0 {
			t.Skip("trigger has no AuthParams or ResolvedEnv values of 4 characters or more")
		}
		src := newSource(NewDeps(t, NewSink()))
		for _, bad := range spoilt(trigger) {
			for _, err := range []error{parseErr(src, bad), src.Watch(bad)} {
				if err == nil {
					continue
				}
				for _, s := range secrets {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error for %s shows a secret: %v", bad.Name, err)
					}
				}
			}
			src.Unwatch(bad.Key)
		}
	})
}

// start runs src.Start and checks that it blocks; the returned function
// cancels it and checks that it returns nil in time.
func start(t *testing.T, src sources.Source) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Start(ctx) }()
	select {
	case err := <-done:
		cancel()
		t.Fatalf("Start returned %v before its context was cancelled", err)
	case <-time.After(quiet):
	}
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Start returned %v after cancel, want nil", err)
			}
		case <-time.After(WaitTimeout):
			t.Fatalf("Start did not return within %s of cancel", WaitTimeout)
		}
	}
}

func parseErr(src sources.Source, t sources.Trigger) error {
	_, err := src.Parse(t)
	return err
}

func secretsOf(t sources.Trigger) []string {
	var out []string
	for _, m := range []map[string]string{t.AuthParams, t.ResolvedEnv} {
		for _, v := range m {
			if len(v) >= 4 {
				out = append(out, v)
			}
		}
	}
	return out
}

// badValues are what each metadata value is replaced by in turn.
var badValues = []string{"", "-1", "0", "abc", "1e400", "NaN", "a b", "!!", strings.Repeat("x", 300)}

// spoilt returns variants of t, each with one metadata value or auth
// parameter removed or replaced, named in Name, each under its own key.
func spoilt(t sources.Trigger) []sources.Trigger {
	var out []sources.Trigger
	add := func(name string, md, auth map[string]string) {
		v := t
		v.Name, v.Metadata, v.AuthParams = name, md, auth
		v.Key = store.Key{Owner: t.Key.Owner, Trigger: t.Key.Trigger + 1 + len(out)}
		out = append(out, v)
	}
	for k := range t.Metadata {
		md := maps.Clone(t.Metadata)
		delete(md, k)
		add("without metadata "+k, md, t.AuthParams)
		for _, bad := range badValues {
			md := maps.Clone(t.Metadata)
			md[k] = bad
			add("metadata "+k+"="+bad, md, t.AuthParams)
		}
	}
	for k := range t.AuthParams {
		auth := maps.Clone(t.AuthParams)
		delete(auth, k)
		add("without auth param "+k, t.Metadata, auth)
		auth = maps.Clone(t.AuthParams)
		auth[k] = ""
		add("empty auth param "+k, t.Metadata, auth)
	}
	add("no metadata", nil, t.AuthParams)
	return out
}

// NewDeps returns the dependencies a source gets from the gateway, for a
// test: sink, the real clock, a discarding logger, and a real
// sources.Scheduler on sink (named "test") that runs until t ends.
func NewDeps(t testing.TB, sink sources.Sink) sources.Deps {
	sched := sources.NewScheduler(sources.SchedulerOptions{Source: "test", Sink: sink})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Scheduler.Start = %v", err)
		}
	})
	return sources.Deps{Name: "test", Sink: sink, Scheduler: sched, Clock: clock.RealClock{}, Logger: slog.New(slog.DiscardHandler)}
}
