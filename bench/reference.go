package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// referenceName names the calibration run in the report.
const referenceName = "(ref) trivial 202 handler"

// referenceServer is a trivial stand-in for one webhook stream: POST reads
// the body, adds 1 to a counter and answers 202 with a body of the
// gateway's shape; GET answers the counter as {"value": n}. Driven by the
// same load generator, it shows what the generator and net/http cost by
// themselves on this machine: the ceiling of the method. It runs in a
// process of its own (this binary again, see startReferenceProcess), as
// the gateway does during the ingest runs.
type referenceServer struct {
	count atomic.Int64
	srv   *http.Server
	done  chan error
}

// referenceAddrEnv, when set, makes the bench binary a reference server
// on that address and nothing else (see startReferenceProcess).
const referenceAddrEnv = "PUSHSCALE_BENCH_REFERENCE_ADDR"

// serveReference is the bench binary as a reference server on addr until
// SIGTERM or SIGINT; it returns the exit code.
func serveReference(addr string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "reference server:", err)
		return 1
	}
	r := &referenceServer{done: make(chan error, 1)}
	r.srv = &http.Server{Handler: http.HandlerFunc(r.serve), ReadHeaderTimeout: 10 * time.Second}
	go func() { r.done <- r.srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-r.done:
		r.done <- err
	}
	if err := r.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "reference server:", err)
		return 1
	}
	return 0
}

// referenceProc is the bench binary run again as a reference server in a
// process of its own, as the gateway runs in its own.
type referenceProc struct {
	url  string // its one stream
	cmd  *exec.Cmd
	logs *lockedBuffer
	done chan struct{}
}

// startReferenceProcess runs this binary again with referenceAddrEnv set
// to a free loopback port, killed if the bench dies, and waits until its
// stream answers.
func startReferenceProcess(ctx context.Context, e *env) (*referenceProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("reference server: %w", err)
	}
	ports, err := freeLoopbackPorts(1)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	r := &referenceProc{url: "http://" + addr + "/v1/namespaces/ref/streams/ref", logs: &lockedBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(exe)
	r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), referenceAddrEnv + "=" + addr}
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := r.cmd.Start(); err != nil {
		return nil, fmt.Errorf("reference server: %w", err)
	}
	go func() {
		_ = r.cmd.Wait()
		close(r.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if code, _, err := e.get(ctx, r.url, ""); err == nil && code == http.StatusOK {
			return r, nil
		}
		select {
		case <-r.done:
			return nil, fmt.Errorf("reference server exited: %s", lastLines(r.logs.String(), 10))
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("reference server not answering within 30 s: %s", lastLines(r.logs.String(), 10))
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			r.stop()
			return nil, err
		}
	}
}

func (r *referenceProc) pid() int { return r.cmd.Process.Pid }

// stop ends the process: SIGTERM, SIGKILL after 10 s.
func (r *referenceProc) stop() {
	select {
	case <-r.done:
		return
	default:
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

func (r *referenceServer) serve(w http.ResponseWriter, req *http.Request) {
	w.Header()["Content-Type"] = contentTypeJSON
	switch req.Method {
	case http.MethodPost:
		_, _ = io.Copy(io.Discard, req.Body)
		n := r.count.Add(1)
		w.WriteHeader(http.StatusAccepted)
		_, _ = w.Write([]byte(`{"stream":"ref","value":` + strconv.FormatInt(n, 10) + "}\n"))
	case http.MethodGet:
		_, _ = w.Write([]byte(`{"stream":"ref","value":` + strconv.FormatInt(r.count.Load(), 10) + "}\n"))
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// stop shuts the server down and waits for it.
func (r *referenceServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := r.srv.Shutdown(ctx)
	if serr := <-r.done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}

// measureReference runs the load generator against a reference server in
// its own process.
func measureReference(ctx context.Context, e *env, cfg config) (*ThroughputResult, error) {
	ref, err := startReferenceProcess(ctx, e)
	if err != nil {
		return nil, err
	}
	defer ref.stop()
	res, err := runLoad(ctx, e, loadSpec{name: referenceName, urls: []string{ref.url}, serverPID: ref.pid(),
		conns: cfg.conns, warmup: cfg.warmup, window: cfg.duration, profile: cfg.profilePath("(ref)")})
	if res != nil {
		res.Reference = true
	}
	return res, err
}

// measureReferenceWrk is measureReference with wrk (nil, nil without
// wrk).
func measureReferenceWrk(ctx context.Context, e *env, cfg config) (*ThroughputResult, error) {
	ref, err := startReferenceProcess(ctx, e)
	if err != nil {
		return nil, err
	}
	defer ref.stop()
	res, err := measureWrk(ctx, e, cfg, referenceWrkName, ref.url, "", 1, ref.pid())
	if res != nil {
		res.Reference = true
	}
	return res, err
}

// referenceWrkName names the calibration run of wrk.
const referenceWrkName = "(ref, wrk) trivial 202 handler"

// targetIngestShare is DESIGN.md's single-event ingest against the
// trivial handler on the same generator.
const targetIngestShare = 0.90

// referenceFor is the requests/s of the reference run with t's generator
// (0: none).
func (r *Report) referenceFor(t *ThroughputResult) float64 {
	for _, ref := range r.Throughput {
		if ref.Reference && ref.Generator == t.Generator {
			return ref.RequestsPerS
		}
	}
	return 0
}

// checkIngestShare compares each single-event run on one stream with the
// reference of its generator.
func (r *Report) checkIngestShare() {
	for _, t := range r.Throughput {
		ref := r.referenceFor(t)
		if t.Reference || t.EventsPerRequest != 1 || t.Streams != 1 || ref <= 0 {
			continue
		}
		share := t.RequestsPerS / ref
		r.Checks = append(r.Checks, Check{
			What:   "webhook single-event ingest against the trivial handler " + t.Name,
			Target: fmt.Sprintf("≥ %.0f%%", 100*targetIngestShare),
			Got:    fmt.Sprintf("%.0f%% (%s of %s requests/s)", 100*share, thousands(int64(t.RequestsPerS)), thousands(int64(ref))),
			Pass:   share >= targetIngestShare,
		})
	}
}
