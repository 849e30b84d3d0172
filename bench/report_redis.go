package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// The targets of DESIGN.md for Redis and memory, and the KEDA figures the
// polled series and the idle cost are compared with.
const (
	targetRedisP99         = 25.0 // ms, push
	targetIdleCommandsPerS = 1.0  // push, 1,000 idle triggers
	targetConnsPerEndpoint = 2
	targetTrackingRatio    = 1.5   // client tracking p99 ÷ keyspace notifications p99
	targetMemoryMiB        = 500.0 // 10,000 ScaledObjects in one replica
	targetMemoryObjects    = 10_000
	kedaPoll1sP99Ms        = 1000.0   // KEDA at pollingInterval 1 s
	kedaPoll30sMeanMs      = 17_000.0 // KEDA at pollingInterval 30 s
)

// addSeries adds Redis activation series to the report.
func (r *Report) addSeries(s []*RedisSeries) {
	if len(s) == 0 {
		return
	}
	if r.RedisLatency == nil {
		r.RedisLatency = &RedisLatencyResult{Method: redisLatencyMethod()}
	}
	r.RedisLatency.Series = append(r.RedisLatency.Series, s...)
}

// addIdle adds an idle-cost run (nil: none) to the report.
func (r *Report) addIdle(cfg config, run *IdleRun) {
	if run == nil {
		return
	}
	if r.RedisIdle == nil {
		r.RedisIdle = &RedisIdleResult{Method: redisIdleMethod(cfg)}
	}
	r.RedisIdle.Runs = append(r.RedisIdle.Runs, run)
}

// checkRedis adds the Redis checks.
func (r *Report) checkRedis() {
	if l := r.RedisLatency; l != nil {
		for _, s := range l.Series {
			switch {
			case s.Push:
				r.Checks = append(r.Checks, Check{
					What:   "redis LPUSH → spec.replicas=1, p99, " + s.Name,
					Target: fmt.Sprintf("≤ %g ms", targetRedisP99), Got: fmtMs(s.ToReplicas.P99Ms),
					Pass: s.ToReplicas.P99Ms <= targetRedisP99,
				})
			case s.PollingIntervalS == 1:
				r.Checks = append(r.Checks, Check{
					What:   "redis LPUSH → spec.replicas=1, p99, " + s.Name + ", as KEDA",
					Target: "≤ " + fmtMs(kedaPoll1sP99Ms) + " (KEDA's p99)", Got: fmtMs(s.ToReplicas.P99Ms),
					Pass: s.ToReplicas.P99Ms <= kedaPoll1sP99Ms,
				})
			default:
				what := "redis LPUSH → spec.replicas=1, mean, " + s.Name + ", as KEDA"
				if s.PollingIntervalS != 30 {
					what += " (KEDA's figure is for 30 s)"
				}
				r.Checks = append(r.Checks, Check{
					What: what, Target: "≤ " + fmtMs(kedaPoll30sMeanMs) + " (KEDA's mean)", Got: fmtMs(s.ToReplicas.MeanMs),
					Pass: s.ToReplicas.MeanMs <= kedaPoll30sMeanMs,
				})
			}
		}
	}
	if l := r.RedisLatency; l != nil {
		r.checkTracking(l.Series)
	}
	if i := r.RedisIdle; i != nil {
		for _, run := range i.Runs {
			if !run.Push {
				continue // no target: polling costs what KEDA's does, printed beside it
			}
			of := fmt.Sprintf("%s idle redis ScaledObjects", thousands(int64(run.Objects)))
			if run.Objects != 1000 {
				of += " (the target is for 1,000)"
			}
			r.Checks = append(r.Checks,
				Check{
					What:   "redis commands/s, " + of + ", " + run.Name,
					Target: fmt.Sprintf("< %g command/s", targetIdleCommandsPerS), Got: fmt.Sprintf("%.2f commands/s", run.CommandsPerS),
					Pass: run.CommandsPerS < targetIdleCommandsPerS,
				},
				Check{
					What:   "redis connections per endpoint, " + of + ", " + run.Name,
					Target: fmt.Sprintf("≤ %d", targetConnsPerEndpoint), Got: fmt.Sprint(run.Clients),
					Pass: run.Clients <= targetConnsPerEndpoint,
				},
				Check{
					What:   of + " (with a TriggerAuthentication) Ready with their HPAs, " + run.Name,
					Target: fmt.Sprintf("≤ %g s", targetReadyS), Got: fmt.Sprintf("%.1f s", run.ReadyS),
					Pass: run.ReadyS <= targetReadyS,
				})
		}
	}
}

// checkTracking compares the client tracking series with the keyspace
// notification one of the same run, when both ran.
func (r *Report) checkTracking(series []*RedisSeries) {
	var notify, tracking *RedisSeries
	for _, s := range series {
		switch {
		case s.Push && s.Tracking:
			tracking = s
		case s.Push:
			notify = s
		}
	}
	if notify == nil || tracking == nil || notify.ToReplicas.P99Ms <= 0 {
		return
	}
	ratio := tracking.ToReplicas.P99Ms / notify.ToReplicas.P99Ms
	r.Checks = append(r.Checks, Check{
		What:   "redis LPUSH → spec.replicas=1, p99, client tracking ÷ keyspace notifications",
		Target: fmt.Sprintf("≤ %g×", targetTrackingRatio),
		Got:    fmt.Sprintf("×%.2f (%s ÷ %s)", ratio, fmtMs(tracking.ToReplicas.P99Ms), fmtMs(notify.ToReplicas.P99Ms)),
		Pass:   ratio <= targetTrackingRatio,
	})
}

// checkMemory adds the memory check: RSS at DESIGN.md's 10,000 if the
// run got there; if its time ran out first, as a straight line through
// the measured steps predicts it (and says so); else (a smaller goal, as
// with -smoke) at the largest count measured.
func (r *Report) checkMemory() {
	m := r.Memory
	if m == nil || len(m.Steps) == 0 {
		return
	}
	s := *m.Steps[len(m.Steps)-1]
	what := fmt.Sprintf("gateway RSS with %s ScaledObjects in one replica", thousands(int64(s.Objects)))
	if !s.AllReady {
		what += fmt.Sprintf(" (%s of them Ready)", thousands(int64(s.Ready)))
	}
	got := fmt.Sprintf("%.0f MiB (heap in use %.0f MiB)", s.RSSMiB, s.HeapInuseMiB)
	if s.Objects < targetMemoryObjects {
		if x, ok := m.extrapolate(targetMemoryObjects); ok && m.Stopped != "" && m.Goal >= targetMemoryObjects {
			what = fmt.Sprintf("gateway RSS with %s ScaledObjects in one replica, extrapolated from %s–%s measured",
				thousands(targetMemoryObjects), thousands(int64(m.Steps[0].Objects)), thousands(int64(s.Objects)))
			got = fmt.Sprintf("≈ %.0f MiB (heap in use ≈ %.0f MiB)", x.RSSMiB, x.HeapInuseMiB)
			s = x
		} else {
			what += fmt.Sprintf(" (the target is for %s)", thousands(targetMemoryObjects))
		}
	}
	r.Checks = append(r.Checks, Check{
		What: what, Target: fmt.Sprintf("< %g MiB", targetMemoryMiB), Got: got,
		Pass: s.RSSMiB < targetMemoryMiB,
	})
}

func printRedisLatency(w io.Writer, l *RedisLatencyResult) {
	fmt.Fprintf(w, "\n4. Redis: LPUSH → spec.replicas=1, push versus polling\n")
	wrap(w, "   method: ", l.Method)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   series\tpollingInterval\tn\tp50\tp90\tp99\tmax\tmean\tLPUSH RTT p50\tReady in\t")
	for _, s := range l.Series {
		t := s.ToReplicas
		fmt.Fprintf(tw, "   %s\t%g s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f s\t\n", s.Name, s.PollingIntervalS, t.N,
			fmtMs(t.P50Ms), fmtMs(t.P90Ms), fmtMs(t.P99Ms), fmtMs(t.MaxMs), fmtMs(t.MeanMs), fmtMs(s.LPushRTT.P50Ms), s.ReadyS)
	}
	tw.Flush()
	for _, s := range l.Series {
		text := fmt.Sprintf("%s: %s; %s; gateway reads during the series: %s; CPU: this process %.2f cores, control plane "+
			"%.2f cores, rest of the machine %.2f cores.", s.Name, s.Schedule, s.PushHealth, readsString(s.Reads),
			s.CPU.ProcessCores, s.CPU.ControlPlaneCores, s.CPU.OtherCores)
		if g := s.Histogram; g != nil {
			text += fmt.Sprintf(" The gateway's pushscale_event_to_scale_seconds{source=\"redis\"} (from the value's record "+
				"to the /scale write): %d observations, mean %.1f ms, p99 ≈ %.1f ms, %.0f%% ≤ 25 ms.",
				g.Count, g.MeanMs, g.P99Ms, g.ShareAtMost*100)
		}
		wrap(w, "   ", text)
	}
	wrap(w, "   ", "KEDA, measured the same way (DESIGN.md): p99 1.0 s at pollingInterval 1 s, mean 17 s at 30 s.")
}

func printRedisIdle(w io.Writer, i *RedisIdleResult) {
	n := 0
	if len(i.Runs) > 0 {
		n = i.Runs[0].Objects
	}
	fmt.Fprintf(w, "\n5. Redis: idle cost of %s ScaledObjects\n", thousands(int64(n)))
	wrap(w, "   method: ", i.Method)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   gateway\tReady in\twindow\tcommands\tcommands/s\tconnections\tof which subscribers\tchannels subscribed\t")
	for _, r := range i.Runs {
		fmt.Fprintf(tw, "   %s\t%.1f s\t%.1f s\t%d\t%.2f\t%d\t%d\t%d\t\n", r.Name, r.ReadyS, r.WindowS, r.Commands, r.CommandsPerS,
			r.Clients, r.Subscribers, r.Subscriptions)
	}
	tw.Flush()
	for _, r := range i.Runs {
		wrap(w, "   ", fmt.Sprintf("%s: %s; commands in the window: %s; gateway reads in the window: %s; connections: %s.",
			r.Name, r.PushHealth, commandsString(r.ByCommand), readsString(r.Reads), r.ClientsDetail))
	}
	wrap(w, "   ", "KEDA (DESIGN.md): 100 idle ScaledObjects cost 16 commands/s and one connection per object; "+
		"1,000 cost 100 commands/s over 1,001 connections.")
}

func printMemory(w io.Writer, m *MemoryResult) {
	fmt.Fprintf(w, "\n6. Memory: the gateway with up to %s ScaledObjects\n", thousands(int64(m.Goal)))
	wrap(w, "   method: ", m.Method)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   ScaledObjects\tReady\tHPAs\tcreates took\tall Ready with HPAs\theap in use\tper object added\tRSS\tpeak RSS\tRSS anon\tgoroutines\t")
	fmt.Fprintf(tw, "   0 (gateway started)\t\t\t\t\t%.1f MiB\t\t%.1f MiB\t\t\t\t\n", m.BaselineHeapMiB, m.BaselineRSSMiB)
	for _, s := range m.Steps {
		all := fmt.Sprintf("%.1f s", s.ReadyS)
		if !s.AllReady {
			all = "not in time"
		}
		fmt.Fprintf(tw, "   %s\t%s\t%s\t%.1f s\t%s\t%.1f MiB\t%.1f KiB\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%d\t\n", thousands(int64(s.Objects)),
			thousands(int64(s.Ready)), thousands(int64(s.HPAs)), s.CreatedS, all, s.HeapInuseMiB, s.HeapPerObjectKiB, s.RSSMiB, s.PeakRSSMiB, s.RSSAnonMiB, s.Goroutines)
	}
	tw.Flush()
	wrap(w, "   ", "Times count from each batch's first ScaledObject create; \"per object added\" is the heap the batch "+
		"added divided by the ScaledObjects it added (the first batch against the gateway started without any, "+
		"measured once its heap had settled); peak RSS is the process's VmHWM so far.")
	if len(m.Steps) > 0 {
		last := m.Steps[len(m.Steps)-1]
		wrap(w, "   ", fmt.Sprintf("Per ScaledObject at %s: heap %.1f KiB, RSS %.1f KiB (the last step less the gateway started "+
			"without any, divided by the count).", thousands(int64(last.Objects)),
			(last.HeapInuseMiB-m.BaselineHeapMiB)*1024/float64(last.Objects), (last.RSSMiB-m.BaselineRSSMiB)*1024/float64(last.Objects)))
	}
	if len(m.Restarts) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "   started afresh on\tenvironment\tready after\theap in use\tRSS\tpeak RSS\tRSS anon\tgoroutines\t")
		for _, r := range m.Restarts {
			env := r.Environment
			if env == "" {
				env = "no GOMEMLIMIT"
			}
			fmt.Fprintf(tw, "   %s\t%s\t%.1f s\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%.1f MiB\t%d\t\n", thousands(int64(r.Objects)), env, r.ReadyS,
				r.HeapInuseMiB, r.RSSMiB, r.PeakRSSMiB, r.RSSAnonMiB, r.Goroutines)
		}
		tw.Flush()
	}
	if m.HeapProfile != "" {
		wrap(w, "   ", "Heap profile at the last count: "+m.HeapProfile+" (go tool pprof -top -sample_index=inuse_space <file>).")
	}
	if m.Stopped != "" && len(m.Steps) > 0 {
		last := m.Steps[len(m.Steps)-1]
		text := fmt.Sprintf("Stopped at %s of %s: %s.", thousands(int64(last.Objects)), thousands(int64(m.Goal)), m.Stopped)
		if x, ok := m.extrapolate(m.Goal); ok && last.Objects < m.Goal {
			text += fmt.Sprintf(" Not measured: a straight line through %s and %s ScaledObjects gives, at %s, heap in use ≈ "+
				"%.0f MiB, RSS ≈ %.0f MiB.", thousands(int64(m.Steps[0].Objects)),
				thousands(int64(last.Objects)), thousands(int64(m.Goal)), x.HeapInuseMiB, x.RSSMiB)
		}
		wrap(w, "   ", text)
	}
	if len(m.Steps) == 0 {
		return
	}
	for _, s := range []*MemoryStep{m.Steps[0], m.Steps[len(m.Steps)-1]} {
		if len(s.APIRequests) > 0 {
			wrap(w, "   ", fmt.Sprintf("Busiest apiserver requests during the batch to %s (everyone's): %s.",
				thousands(int64(s.Objects)), requestsString(s.APIRequests)))
		}
		if len(m.Steps) == 1 {
			break
		}
	}
}

// readsString is "hint×100, poll×3" (or "none").
func readsString(reads map[string]float64) string {
	if len(reads) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(reads)) {
		parts = append(parts, fmt.Sprintf("%s×%.0f", k, reads[k]))
	}
	return strings.Join(parts, ", ")
}

// fmtMs prints milliseconds as "12.3 ms" below a second and "1.23 s" from
// there.
func fmtMs(v float64) string {
	if v < 1000 {
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f s", v/1000)
}
