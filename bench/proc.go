package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// userHZ is the unit of CPU times in /proc/<pid>/stat. The kernel reports
// them in USER_HZ, which is 100 on every Linux architecture Go supports.
const userHZ = 100

// processCPU returns the user+system CPU time used so far by this process
// (all threads), from getrusage(RUSAGE_SELF); 0 if unavailable.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// controlPlaneCPU returns the user+system CPU time used so far by the
// control plane's processes; processes that cannot be read count 0.
func (e *env) controlPlaneCPU() time.Duration {
	var total time.Duration
	for _, pid := range e.cp.Pids() {
		if d, err := pidCPU(pid); err == nil {
			total += d
		}
	}
	return total
}

// pidCPU reads utime and stime (fields 14 and 15) of /proc/<pid>/stat.
func pidCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields are counted after
	// its closing parenthesis, where field 3 starts.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: malformed times", pid)
	}
	return time.Duration(utime+stime) * time.Second / userHZ, nil
}

// machineCPU returns the CPU time all processes of the machine have used so
// far (every state but idle and iowait, all CPUs), from /proc/stat; 0 if
// unavailable.
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / userHZ
}

// loadAverage returns the first three fields of /proc/loadavg.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// rssBytes returns VmRSS of this process from /proc/self/status.
func rssBytes() (uint64, error) {
	return statusBytes("/proc/self/status", "VmRSS")
}

// statusBytes returns the field (VmRSS, VmHWM, …) of a /proc/<pid>/status
// file, in bytes.
func statusBytes(path, field string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), field+":")
		if !ok {
			continue
		}
		fields := strings.Fields(rest) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("%s: %s %q", path, field, rest)
		}
		kb, err := strconv.ParseUint(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s %q: %w", path, field, rest, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %s", path, field)
}

// cpuUse is CPU time used during a window.
type cpuUse struct {
	// ProcessS is user+system time of this process (the gateway and the
	// load generator together, or the generator alone when the server
	// runs in its own process), from getrusage.
	ProcessS     float64 `json:"process_s"`
	ProcessCores float64 `json:"process_cores"`
	// ServerS is that of the server in its own process (the gateway
	// binary or the reference server), from /proc/<pid>/stat; 0 when the
	// server runs in this process.
	ServerS     float64 `json:"server_process_s,omitempty"`
	ServerCores float64 `json:"server_process_cores,omitempty"`
	// ControlPlaneS is that of etcd, kube-apiserver and
	// kube-controller-manager, from /proc/<pid>/stat.
	ControlPlaneS     float64 `json:"control_plane_s"`
	ControlPlaneCores float64 `json:"control_plane_cores"`
	// OtherCores is what the rest of the machine used (all CPU time from
	// /proc/stat minus the above; includes steal): other users of a
	// shared machine.
	OtherCores float64 `json:"other_cores"`
}

// cpuMeter measures cpuUse from its start to stop.
type cpuMeter struct {
	e                               *env
	at                              time.Time
	serverPID                       int
	self, server, controlPlane, all time.Duration
}

func startCPU(e *env) cpuMeter { return startCPUWith(e, 0) }

// startCPUWith is startCPU also measuring the process serverPID (0: none).
func startCPUWith(e *env, serverPID int) cpuMeter {
	m := cpuMeter{e: e, at: time.Now(), serverPID: serverPID, self: processCPU(), controlPlane: e.controlPlaneCPU(), all: machineCPU()}
	if serverPID != 0 {
		m.server, _ = pidCPU(serverPID)
	}
	return m
}

func (m cpuMeter) stop() cpuUse {
	wall := time.Since(m.at).Seconds()
	self, cp, all := processCPU()-m.self, m.e.controlPlaneCPU()-m.controlPlane, machineCPU()-m.all
	var server time.Duration
	if m.serverPID != 0 {
		if d, err := pidCPU(m.serverPID); err == nil {
			server = d - m.server
		}
	}
	u := cpuUse{ProcessS: self.Seconds(), ServerS: server.Seconds(), ControlPlaneS: cp.Seconds()}
	if wall > 0 {
		u.ProcessCores = u.ProcessS / wall
		u.ServerCores = u.ServerS / wall
		u.ControlPlaneCores = u.ControlPlaneS / wall
		if m.all > 0 {
			u.OtherCores = max(0, (all-self-server-cp).Seconds()/wall)
		}
	}
	return u
}
