package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The load rule. A run is a result only when the machine was not busy
// with other work: the 1-minute load average read just before the control
// plane starts is at most -max-load, and the CPU that processes other than
// this bench, its descendants (the control plane, redis-servers, wrk, …)
// used, averaged over the whole run, is at most -max-other-cores. A run
// that is not a result prints everything, says why, and is not saved.

// LoadVerdict is the rule, the values measured and the verdict.
type LoadVerdict struct {
	Rule          string  `json:"rule"`
	MaxLoad       float64 `json:"max_load"`
	MaxOtherCores float64 `json:"max_other_cores"`
	LoadBefore    float64 `json:"load1_before"`
	// OtherCores is the machine's CPU time over the run (/proc/stat, all
	// but idle and iowait) minus this process's and its descendants', per
	// second of the run.
	OtherCores float64 `json:"other_cores"`
	// OwnCores is this process's and its descendants' CPU per second.
	OwnCores float64 `json:"own_cores"`
	Result   bool    `json:"result"`
	Why      string  `json:"why,omitempty"`
}

// loadMeter measures the rest of the machine's CPU over a run.
type loadMeter struct {
	at        time.Time
	own, all  time.Duration
	load1     float64
	maxLoad   float64
	maxOthers float64
}

// loadSettleMax bounds settleLoad's wait.
const loadSettleMax = 3 * time.Minute

// settleLoad waits, at most max, for the 1-minute load average to come
// down to maxLoad: the average decays over minutes, so a run that follows
// another (the bench's own build, or a previous run) would otherwise start
// above the rule with the machine already quiet. Other work that goes on
// loading the machine still fails the rule when the wait ends.
func settleLoad(ctx context.Context, maxLoad float64, max time.Duration) {
	l := load1()
	if l <= maxLoad {
		return
	}
	progress("load average %.2f > %g (-max-load): waiting up to %s for it to come down", l, maxLoad, max)
	deadline := time.Now().Add(max)
	for l > maxLoad && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
		l = load1()
	}
	progress("load average %.2f", l)
}

// startLoad reads the 1-minute load average and the CPU counters; call it
// just before the control plane starts.
func startLoad(cfg config) loadMeter {
	return loadMeter{at: time.Now(), own: treeCPU(), all: machineCPU(), load1: load1(), maxLoad: cfg.maxLoad, maxOthers: cfg.maxOtherCores}
}

// stop applies the rule; call it after everything the bench started has
// stopped (their CPU is then in this process's cutime and cstime).
func (m loadMeter) stop() *LoadVerdict {
	wall := time.Since(m.at).Seconds()
	own, all := treeCPU()-m.own, machineCPU()-m.all
	v := &LoadVerdict{
		MaxLoad: m.maxLoad, MaxOtherCores: m.maxOthers, LoadBefore: m.load1,
		Rule: fmt.Sprintf("a result needs the 1-minute load average before the control plane starts ≤ %g (-max-load) and the CPU "+
			"of other processes (all of /proc/stat but idle and iowait, minus this process and its descendants: the gateway, "+
			"the control plane, the brokers, wrk), averaged over the run, ≤ %g cores (-max-other-cores)", m.maxLoad, m.maxOthers),
	}
	if wall > 0 {
		v.OwnCores = own.Seconds() / wall
		v.OtherCores = max(0, (all-own).Seconds()/wall)
	}
	var why []string
	if m.load1 < 0 {
		why = append(why, "the load average could not be read")
	} else if m.load1 > m.maxLoad {
		why = append(why, fmt.Sprintf("load average %.2f > %g before the start", m.load1, m.maxLoad))
	}
	if m.all == 0 {
		why = append(why, "/proc/stat could not be read")
	} else if v.OtherCores > m.maxOthers {
		why = append(why, fmt.Sprintf("other processes used %.2f cores > %g during the run", v.OtherCores, m.maxOthers))
	}
	v.Result = len(why) == 0
	v.Why = strings.Join(why, "; ")
	return v
}

// printLoad writes the rule, the values and the verdict under the header.
func (r *Report) printLoad(w io.Writer) {
	v := r.Load
	if v == nil {
		return
	}
	verdict := "result"
	if !v.Result {
		verdict = "NOT A RESULT: " + v.Why
	}
	wrap(w, "load:    ", fmt.Sprintf("%s. Here: load average %.2f before the start; over the run other processes %.2f cores, "+
		"this bench with its descendants %.2f cores. → %s", v.Rule, v.LoadBefore, v.OtherCores, v.OwnCores, verdict))
}

// load1 returns the 1-minute load average, -1 if unreadable.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

// treeCPU returns the CPU time used so far by this process, its waited-for
// children (cutime, cstime) and its live descendants (each with its own
// waited-for children). A descendant that left the tree (re-parented to
// init) is not counted: it then counts as other work.
func treeCPU() time.Duration {
	stats := procStats()
	children := map[int][]int{}
	for pid, s := range stats {
		children[s.ppid] = append(children[s.ppid], pid)
	}
	var total time.Duration
	queue := []int{os.Getpid()}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		if s, ok := stats[pid]; ok {
			total += s.cpu
		}
		queue = append(queue, children[pid]...)
	}
	return total
}

type procStat struct {
	ppid int
	cpu  time.Duration // utime + stime + cutime + cstime
}

// procStats reads /proc/<pid>/stat of every process; those that vanish
// meanwhile are left out.
func procStats() map[int]procStat {
	out := map[int]procStat{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if s, ok := parseProcStat(string(b)); ok {
			out[pid] = s
		}
	}
	return out
}

// parseProcStat reads ppid (field 4) and utime, stime, cutime, cstime
// (fields 14–17) of a /proc/<pid>/stat line.
func parseProcStat(s string) (procStat, bool) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3
	if len(f) < 15 {
		return procStat{}, false
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, false
	}
	var ticks int64
	for _, v := range f[11:15] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return procStat{}, false
		}
		ticks += n
	}
	return procStat{ppid: ppid, cpu: time.Duration(ticks) * time.Second / userHZ}, true
}

// saveReport writes the printed report to bench/results/<date>-<parts>.txt
// (-2, -3, … when taken) and returns the path.
func saveReport(dir string, now time.Time, parts []string, report []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("save: %w", err)
	}
	base := now.UTC().Format("2006-01-02") + "-" + strings.Join(parts, "-")
	for i := 1; ; i++ {
		name := base
		if i > 1 {
			name += "-" + strconv.Itoa(i)
		}
		path := filepath.Join(dir, name+".txt")
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("save: %w", err)
		}
		_, err = io.Copy(f, bytes.NewReader(report))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("save %s: %w", path, err)
		}
		return path, nil
	}
}
