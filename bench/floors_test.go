package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckFloorsSetsFloorAndRatio(t *testing.T) {
	r := newReport(config{conns: 1, duration: time.Second})
	r.Floor = &ActivationFloor{ToReplicas: Summary{P50Ms: 4, P99Ms: 10, MeanMs: 5}}
	r.Latency = &LatencyResult{ToReplicas: Summary{P99Ms: 20}}
	r.addSeries([]*RedisSeries{
		{Name: "(a) push", Push: true, ToReplicas: Summary{P99Ms: 12}},
		{Name: "(c) polling at 30 s", PollingIntervalS: 30, ToReplicas: Summary{MeanMs: 15_000}},
	})
	r.Scale = &ScaleResult{Objects: 1000, ReadyS: 12}
	r.ReadyFloor = &ReadyFloor{DoneS: 4}
	r.finish(config{}, nil, time.Minute)
	got := map[string]Check{}
	for _, c := range r.Checks {
		got[c.What] = c
	}
	for _, tc := range []struct {
		name, what, floor, ratio string
		pass                     bool
	}{
		{"webhook p99 beside the floor's p99", "webhook POST → spec.replicas=1, p99", "p99 10.0 ms", "×2.00", true},
		{"webhook ratio target", "webhook POST → spec.replicas=1, p99 ÷ floor p99", "p99 10.0 ms", "×2.00", false},
		{"redis push ratio target", "redis LPUSH → spec.replicas=1, p99 ÷ floor p99, (a) push", "p99 10.0 ms", "×1.20", true},
		{"a mean beside the floor's mean", "redis LPUSH → spec.replicas=1, mean, (c) polling at 30 s, as KEDA", "mean 5.0 ms", "×3000", true},
		{"1,000 Ready beside its floor", "1,000 ScaledObjects Ready with their HPAs", "4.0 s", "×3.00", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := got[tc.what]
			if !ok {
				t.Fatalf("no check %q in %v", tc.what, r.Checks)
			}
			if c.Floor != tc.floor || c.Ratio != tc.ratio || c.Pass != tc.pass {
				t.Errorf("floor %q ratio %q pass %v, want %q %q %v", c.Floor, c.Ratio, c.Pass, tc.floor, tc.ratio, tc.pass)
			}
		})
	}
}

func TestParseFigure(t *testing.T) {
	for in, want := range map[string]float64{"12.5 ms": 12.5, "1.05 s": 1050, "≈ 550 MiB": -1, "": -1} {
		v, ok := parseFigure(in)
		if (want < 0) == ok || ok && v != want {
			t.Errorf("parseFigure(%q) = %v, %v; want %v", in, v, ok, want)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// Fields after the name: state ppid pgrp session tty tpgid flags minflt
	// cminflt majflt cmajflt utime stime cutime cstime …
	s, ok := parseProcStat("42 (a (b) c) S 7 42 42 0 -1 0 0 0 0 0 100 50 30 20 20 0 1 0")
	if !ok || s.ppid != 7 || s.cpu != 2*time.Second {
		t.Fatalf("got %+v %v, want ppid 7 and 2 s", s, ok)
	}
	if _, ok := parseProcStat("42 (x) S 7"); ok {
		t.Fatal("a short line parsed")
	}
}

func TestSaveReportAddsASuffix(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC)
	for i, want := range []string{"2026-12-07-webhook-etcd.txt", "2026-12-07-webhook-etcd-2.txt", "2026-12-07-webhook-etcd-3.txt"} {
		path, err := saveReport(dir, now, []string{"webhook", "etcd"}, []byte{byte('a' + i)})
		if err != nil || filepath.Base(path) != want {
			t.Fatalf("save %d: %q %v, want %s", i, path, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "2026-12-07-webhook-etcd.txt")); string(b) != "a" {
		t.Fatalf("the first file was overwritten: %q", b)
	}
}

func TestBuildFloorRequest(t *testing.T) {
	for _, tc := range []struct {
		kind, method, path string
		ok                 bool
	}{
		{"patch scaledobjects/status", "PATCH", "/apis/keda.sh/v1alpha1/namespaces/ns/scaledobjects/so-1/status", true},
		{"create horizontalpodautoscalers", "POST", "/apis/autoscaling/v2/namespaces/ns/horizontalpodautoscalers", true},
		{"get deployments/scale", "GET", "/apis/apps/v1/namespaces/ns/deployments/so-1/scale", true},
		{"watch scaledobjects", "", "", false},
		{"update scaledobjects", "", "", false},
		{"get other", "", "", false},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			r, ok := buildFloorRequest(tc.kind, "ns", "so-1", 0)
			if ok != tc.ok || r.method != tc.method || r.path != tc.path {
				t.Errorf("got %q %q %v, want %q %q %v", r.method, r.path, ok, tc.method, tc.path, tc.ok)
			}
			if strings.HasPrefix(tc.kind, "create") && len(r.body) == 0 {
				t.Error("a create without a body")
			}
		})
	}
}

func TestLoadRuleRefusesALoadedStart(t *testing.T) {
	m := startLoad(config{maxLoad: 2, maxOtherCores: 1000})
	m.load1 = 5
	v := m.stop()
	if v.Result || !strings.Contains(v.Why, "load average 5.00 > 2") {
		t.Fatalf("verdict %+v: want NOT A RESULT for the load average", v)
	}
	m.load1 = 1
	if v := m.stop(); !v.Result || v.Why != "" {
		t.Fatalf("verdict %+v: want a result (other cores bound 1000)", v)
	}
}
