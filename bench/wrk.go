package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// wrkThreads is wrk's thread count: one per core of this 2-core machine,
// which the gateway shares.
const wrkThreads = 2

// measureWrk drives url with wrk, a load generator in its own process
// (written in C on epoll), so the figure is not bounded by a Go client
// sharing the gateway's runtime. It returns nil, nil when wrk is not
// installed (make deps installs it). A token, if not empty, is sent as a
// bearer token; serverPID, if not 0, is the server's process, whose CPU
// is measured.
func measureWrk(ctx context.Context, e *env, cfg config, name, url, token string, batch, serverPID int) (*ThroughputResult, error) {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		progress("throughput %s: skipped, wrk is not installed (make deps installs it)", name)
		return nil, nil
	}
	body, contentType := deltaBody, contentTypeJSON[0]
	if batch > 1 {
		body, contentType = batchBody(batch), contentTypeBatch[0]
	}
	dir, err := os.MkdirTemp("", "pushscale-wrk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "post.lua")
	lua := fmt.Sprintf("wrk.method = \"POST\"\nwrk.body = %s\nwrk.headers[\"Content-Type\"] = %q\n", luaString(body), contentType)
	if token != "" {
		lua += fmt.Sprintf("wrk.headers[\"Authorization\"] = %q\n", "Bearer "+token)
	}
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		return nil, err
	}

	progress("throughput %s: wrk, %d threads, %d connections, %s", name, wrkThreads, cfg.conns, cfg.duration)
	levelBefore, err := e.levelSum(ctx, []string{url}, token)
	if err != nil {
		return nil, err
	}
	req0 := e.apiserverRequestsOrNil(ctx)
	cpu := startCPUWith(e, serverPID)
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, bin, "-t", strconv.Itoa(wrkThreads), "-c", strconv.Itoa(cfg.conns),
		"-d", fmt.Sprintf("%ds", int(cfg.duration.Seconds())), "--latency", "-s", script, url)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("wrk: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	window := time.Since(t0)
	res, err := parseWrk(out.String())
	if err != nil {
		return nil, fmt.Errorf("wrk: %w\n%s", err, out.String())
	}
	res.Name, res.Streams, res.Connections, res.Generator, res.Auth = name, 1, cfg.conns, "wrk", token != ""
	res.EventsPerRequest = max(batch, 1)
	res.EventsPerS = res.RequestsPerS * float64(res.EventsPerRequest)
	res.CPU = cpu.stop()
	res.APIRequests = topRates(req0, e.apiserverRequestsOrNil(ctx), window.Seconds(), topRequests)

	levelAfter, err := e.levelSum(ctx, []string{url}, token)
	if err != nil {
		return nil, err
	}
	// wrk counts the answers it read before its timer ended; requests on
	// the wire then (at most one per connection) may still have been
	// applied.
	grew := levelAfter - levelBefore
	lo := float64(res.Accepted) * float64(res.EventsPerRequest)
	hi := float64(res.Accepted+int64(res.Connections)) * float64(res.EventsPerRequest)
	res.LevelOK = grew >= lo && grew <= hi
	res.LevelCheck = fmt.Sprintf("levels grew by %.0f; wrk counted %d non-error answers of %d event(s) each (up to %d more in flight at its end)",
		grew, res.Accepted, res.EventsPerRequest, res.Connections)
	return res, nil
}

// luaString quotes b as a Lua long string.
func luaString(b []byte) string {
	return "[==[" + string(b) + "]==]"
}

var (
	wrkTotal    = regexp.MustCompile(`(\d+) requests in ([\d.]+)(us|ms|s|m|h)`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkSocket   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkQuantile = regexp.MustCompile(`(?m)^\s+(50|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$`)
)

// parseWrk reads wrk's report (with --latency): the answers, their rate,
// errors and latency quantiles. Accepted counts the answers that were not
// errors; NonAccepted holds the rest under "non-2xx".
func parseWrk(out string) (*ThroughputResult, error) {
	res := &ThroughputResult{NonAccepted: map[string]int64{}}
	m := wrkTotal.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("no request count in wrk's output")
	}
	total, _ := strconv.ParseInt(m[1], 10, 64)
	window, err := wrkDuration(m[2], m[3])
	if err != nil {
		return nil, err
	}
	res.WindowS = window.Seconds()
	if m := wrkRate.FindStringSubmatch(out); m != nil {
		res.RequestsPerS, _ = strconv.ParseFloat(m[1], 64)
	}
	var bad int64
	if m := wrkNon2xx.FindStringSubmatch(out); m != nil {
		bad, _ = strconv.ParseInt(m[1], 10, 64)
		res.NonAccepted["non-2xx"] = bad
	}
	if m := wrkSocket.FindStringSubmatch(out); m != nil {
		for _, s := range m[1:] {
			n, _ := strconv.ParseInt(s, 10, 64)
			res.TransportErrors += n
		}
		res.FirstError = strings.TrimSpace(m[0])
	}
	res.Accepted = total - bad
	// Requests/sec counts every answer; the figure is the accepted ones.
	if total > 0 {
		res.RequestsPerS *= float64(res.Accepted) / float64(total)
	}
	for _, q := range wrkQuantile.FindAllStringSubmatch(out, -1) {
		d, err := wrkDuration(q[2], q[3])
		if err != nil {
			return nil, err
		}
		ms := float64(d) / float64(time.Millisecond)
		switch q[1] {
		case "50":
			res.Latency.P50Ms = ms
		case "90":
			res.Latency.P90Ms = ms
		case "99":
			res.Latency.P99Ms = ms
		}
	}
	res.Latency.N = int(total)
	return res, nil
}

func wrkDuration(num, unit string) (time.Duration, error) {
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("wrk duration %s%s: %w", num, unit, err)
	}
	scale := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "m": time.Minute, "h": time.Hour}[unit]
	return time.Duration(v * float64(scale)), nil
}
