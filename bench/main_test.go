package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestParseFlags(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		want    func(c config) bool
		wantErr string
	}{
		{"defaults", nil, func(c config) bool {
			return c.activations == 100 && c.conns == 64 && c.duration == 10*time.Second && c.objects == 1000 && c.gatewayQPS == 100 &&
				c.pollTargets == 60 && c.slowPolling == 30*time.Second && c.idleObjects == 1000 && c.idleWindow == 30*time.Second &&
				c.memoryObjects == 10000 && c.memoryBatch == 1000 && c.memoryBudget == 7*time.Minute && c.ceBatch == 100 && c.parts == nil
		}, ""},
		{"smoke shrinks what is not set", []string{"-smoke"}, func(c config) bool {
			return c.activations == 10 && c.duration == 2*time.Second && c.objects == 20 && c.conns == 64 &&
				c.pollTargets == 5 && c.slowPolling == 3*time.Second && c.idleObjects == 20 && c.idleWindow == 5*time.Second &&
				c.memoryObjects == 100 && c.memoryBatch == 50 && c.memoryBudget == time.Minute
		}, ""},
		{"smoke keeps memory sizes that are set", []string{"-smoke", "-memory-objects", "30", "-memory-batch", "10"}, func(c config) bool {
			return c.memoryObjects == 30 && c.memoryBatch == 10
		}, ""},
		{"only selects parts, redis both of its", []string{"-only", "webhook, redis"}, func(c config) bool {
			return c.runs(partWebhook) && c.runs(partRedisLatency) && c.runs(partRedisIdle) && !c.runs(partMemory)
		}, ""},
		{"unknown part", []string{"-only", "amqp"}, nil, `unknown part "amqp"`},
		{"no memory batch", []string{"-memory-batch", "0"}, nil, "-memory-batch 0"},
		{"too few polled targets for a full run", []string{"-poll-targets", "20"}, nil, "-poll-targets 20"},
		{"polling interval in whole seconds", []string{"-slow-polling", "1500ms"}, nil, "-slow-polling 1.5s"},
		{"smoke keeps what is set", []string{"-smoke", "-objects", "50", "-activations", "3"}, func(c config) bool {
			return c.objects == 50 && c.activations == 3 && c.duration == 2*time.Second
		}, ""},
		{"too few activations for a full run", []string{"-activations", "10"}, nil, "-activations 10"},
		{"no connections", []string{"-conns", "0"}, nil, "-conns 0"},
		{"stray argument", []string{"extra"}, nil, "unexpected arguments"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseFlags(tc.args)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Fatalf("config %+v", c)
			}
		})
	}
}

func TestProfilePath(t *testing.T) {
	c := config{profileDir: "/tmp/p"}
	if got := c.profilePath("(c) 1000 streams, auth off"); got != "/tmp/p/ingest-c.pprof" {
		t.Fatalf("got %q", got)
	}
	if got := (config{}).profilePath("(a) x"); got != "" {
		t.Fatalf("without -cpuprofile: %q", got)
	}
}

func TestThousands(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 50000: "50,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestWrapIndentsAndFolds(t *testing.T) {
	var b bytes.Buffer
	wrap(&b, "   method: ", strings.Repeat("word ", 60))
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("not folded: %q", b.String())
	}
	for i, l := range lines {
		if len([]rune(l)) > 110 {
			t.Errorf("line %d is %d long", i, len(l))
		}
		if i > 0 && !strings.HasPrefix(l, strings.Repeat(" ", len("   method: "))) {
			t.Errorf("line %d not indented: %q", i, l)
		}
	}
}

func TestFinishSeparatesMissesFromFailures(t *testing.T) {
	r := newReport(config{conns: 1, duration: time.Second})
	r.Latency = &LatencyResult{ToReplicas: Summary{P99Ms: 30}}
	r.Throughput = []*ThroughputResult{
		{Name: "(ref)", Reference: true, LevelOK: true, EventsPerS: 1},
		{Name: "(a)", EventsPerS: 600_000, EventsPerRequest: 100, LevelOK: true},
		{Name: "(b)", EventsPerS: 10, EventsPerRequest: 100, LevelOK: false, NonAccepted: map[string]int64{"503": 2}},
		// Single events: held to the trivial handler, not to events/s.
		{Name: "(c)", EventsPerS: 10, EventsPerRequest: 1, LevelOK: true},
	}
	r.Scale = &ScaleResult{Objects: 1000, ReadyS: 12}
	r.finish(config{}, nil, time.Minute)
	pass := map[string]bool{}
	for _, c := range r.Checks {
		pass[c.What] = c.Pass
	}
	want := map[string]bool{
		"webhook POST → spec.replicas=1, p99":       false,
		"webhook ingest (a)":                        true,
		"webhook ingest (b)":                        false,
		"1,000 ScaledObjects Ready with their HPAs": true,
	}
	if len(pass) != len(want) {
		t.Fatalf("checks %v, want %v (the reference run is not compared)", pass, want)
	}
	for k, v := range want {
		if got, ok := pass[k]; !ok || got != v {
			t.Errorf("check %q: pass %v (present %v), want %v", k, got, ok, v)
		}
	}
	if len(r.Failures) != 2 || !strings.Contains(r.Failures[0], "503×2") {
		t.Fatalf("failures %q: want the 503s and the level of (b)", r.Failures)
	}
}

func TestFinishChecksRedisAndMemory(t *testing.T) {
	r := newReport(config{})
	r.addSeries([]*RedisSeries{
		{Name: "(a) push", Push: true, PollingIntervalS: 30, ToReplicas: Summary{P99Ms: 20}},
		{Name: "(b) polling at 1 s", PollingIntervalS: 1, ToReplicas: Summary{P99Ms: 1100}},
		{Name: "(c) polling at 30 s", PollingIntervalS: 30, ToReplicas: Summary{MeanMs: 15_000}},
	})
	r.addIdle(config{}, &IdleRun{Name: "push", Push: true, Objects: 1000, CommandsPerS: 0.1, Clients: 3, ReadyS: 40})
	r.addIdle(config{}, &IdleRun{Name: "polling", Objects: 1000, CommandsPerS: 33, Clients: 1})
	r.Memory = &MemoryResult{Goal: 10000, Stopped: "out of time", Steps: []*MemoryStep{
		{Objects: 1000, AllReady: true, RSSMiB: 100},
		{Objects: 2000, AllReady: true, RSSMiB: 150},
		{Objects: 10000, AllReady: false, Ready: 9000, RSSMiB: 450},
	}}
	r.finish(config{}, nil, time.Minute)
	got := map[string]bool{}
	for _, c := range r.Checks {
		got[c.What] = c.Pass
	}
	want := map[string]bool{
		"redis LPUSH → spec.replicas=1, p99, (a) push":                                              true,
		"redis LPUSH → spec.replicas=1, p99, (b) polling at 1 s, as KEDA":                           false,
		"redis LPUSH → spec.replicas=1, mean, (c) polling at 30 s, as KEDA":                         true,
		"redis commands/s, 1,000 idle redis ScaledObjects, push":                                    true,
		"redis connections per endpoint, 1,000 idle redis ScaledObjects, push":                      false,
		"1,000 idle redis ScaledObjects (with a TriggerAuthentication) Ready with their HPAs, push": false,
		"gateway RSS with 10,000 ScaledObjects in one replica (9,000 of them Ready)":                true,
	}
	if len(got) != len(want) {
		t.Fatalf("checks %v, want %v (the polling idle run has no target)", got, want)
	}
	for k, v := range want {
		if pass, ok := got[k]; !ok || pass != v {
			t.Errorf("check %q: pass %v (present %v), want %v", k, pass, ok, v)
		}
	}
	if len(r.Failures) != 0 {
		t.Fatalf("misses are not failures: %q", r.Failures)
	}
	var b bytes.Buffer
	r.print(&b)
	for _, s := range []string{"4. Redis: LPUSH", "5. Redis: idle cost of 1,000", "6. Memory", "not in time", "Stopped at 10,000 of 10,000: out of time"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("report lacks %q", s)
		}
	}
}

func TestMemoryCheckExtrapolatesShortOfTheGoal(t *testing.T) {
	r := newReport(config{})
	r.Memory = &MemoryResult{Goal: 10000, Stopped: "out of time", Steps: []*MemoryStep{
		{Objects: 1000, AllReady: true, RSSMiB: 100, HeapInuseMiB: 40},
		{Objects: 3000, AllReady: true, RSSMiB: 200, HeapInuseMiB: 100},
	}}
	r.finish(config{}, nil, time.Minute)
	if len(r.Checks) != 1 {
		t.Fatalf("checks %+v", r.Checks)
	}
	c := r.Checks[0]
	// 100 MiB + 50 MiB per 1,000 more: 550 MiB at 10,000.
	if c.Pass || c.Got != "≈ 550 MiB (heap in use ≈ 310 MiB)" || !strings.Contains(c.What, "extrapolated from 1,000–3,000 measured") {
		t.Fatalf("check %+v", c)
	}
}
