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
			return c.activations == 100 && c.conns == 64 && c.duration == 10*time.Second && c.objects == 1000 && c.gatewayQPS == 100
		}, ""},
		{"smoke shrinks what is not set", []string{"-smoke"}, func(c config) bool {
			return c.activations == 10 && c.duration == 2*time.Second && c.objects == 20 && c.conns == 64
		}, ""},
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
		{Name: "(a)", EventsPerS: 60_000, LevelOK: true},
		{Name: "(b)", EventsPerS: 10, LevelOK: false, NonAccepted: map[string]int64{"503": 2}},
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
