package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/leader"
)

// This file is the leader part: the gateway binary as separate processes
// with leader election on, the leader stopped by SIGKILL and by SIGTERM in
// turn, the takeover timed through the Lease, and an activation pushed
// into each leaderless window (an LPUSH and a webhook POST to the
// standby) checked for loss.

const (
	partLeader      = "leader"
	leaderNamespace = "bench-leader"
	// leaderElsewhere is what the in-process gateway watches during the
	// part, so that only the processes act on leaderNamespace.
	leaderElsewhere = "bench-leader-elsewhere"
	// leaderActivationWait bounds an activation after the takeover: beyond
	// it, the activation counts as lost.
	leaderActivationWait = time.Minute
)

// LeaderResult is the leader part.
type LeaderResult struct {
	Method     string         `json:"method"`
	LeaseS     float64        `json:"lease_duration_s"`
	RenewS     float64        `json:"renew_deadline_s"`
	RetryS     float64        `json:"retry_period_s"`
	Stops      []*LeaderStops `json:"stops"`
	Activation int            `json:"activations"`
	Lost       int            `json:"activations_lost"`
}

// LeaderStops is one way of stopping the leader, repeated.
type LeaderStops struct {
	Signal string `json:"signal"`
	Rounds int    `json:"rounds"`
	// Takeover is from the signal to the Lease held by the standby.
	Takeover Summary `json:"takeover"`
	// Exit is from the signal to the stopped leader's exit.
	Exit Summary `json:"exit"`
	// Released is from the signal to the Lease seen released (SIGTERM:
	// the gateway stops everything else first, the last save of the
	// levels included); AfterRelease from there to the takeover.
	Released     Summary `json:"released"`
	AfterRelease Summary `json:"takeover_after_release"`
	// Activation is from the takeover to spec.replicas = 1 of the targets
	// pushed to in the leaderless window.
	Activation Summary `json:"activation_after_takeover"`
	Lost       int     `json:"activations_lost"`
}

func leaderMethod(rounds int, lease, renew, retry time.Duration) string {
	return fmt.Sprintf("The gateway binary (go build ./cmd/pushscale) run as two processes at a time, --leader-elect with "+
		"lease %s, renew deadline %s, retry period %s, on namespace %s only (the in-process gateway watches %s meanwhile), "+
		"its Lease in that namespace; one redis-server (keyspace notifications on). %d rounds of each signal, the leader "+
		"stopped and a new standby started after each. t0 just before the signal; at once after it an LPUSH on a list whose "+
		"ScaledObject (pollingInterval 300 s, so only push can explain a wake-up) scales a Deployment at 0, and a webhook POST "+
		"(level 1) for another one sent to the standby, repeated after each 503 as its Retry-After says. Takeover: t0 to the "+
		"Lease watch seeing the standby hold the Lease. Activation: takeover to a Deployment informer seeing spec.replicas = "+
		"1 (the POST's retries after a 503 or 502 count in it); an activation not seen within %s is lost.", lease, renew, retry, leaderNamespace, leaderElsewhere, rounds, leaderActivationWait)
}

// measureLeader runs the part.
func measureLeader(ctx context.Context, e *env, cfg config) (*LeaderResult, error) {
	rounds, lease, renew, retry := 5, 15*time.Second, 10*time.Second, 2*time.Second
	if cfg.smoke {
		rounds, lease, renew, retry = 1, 4*time.Second, 3*time.Second, time.Second
	}
	res := &LeaderResult{Method: leaderMethod(rounds, lease, renew, retry), LeaseS: lease.Seconds(), RenewS: renew.Seconds(), RetryS: retry.Seconds()}
	ns := leaderNamespace
	if err := e.createNamespace(ctx, ns); err != nil {
		return res, err
	}
	if err := e.useGateway(ctx, func(o *gateway.Options) { o.WatchNamespace = leaderElsewhere }); err != nil {
		return res, err
	}
	r, err := e.startRedis(ctx, ns, "redis", notifyAll)
	if err != nil {
		return res, err
	}
	defer r.close()

	signals := []struct {
		name string
		sig  syscall.Signal
	}{{"SIGKILL", syscall.SIGKILL}, {"SIGTERM", syscall.SIGTERM}}
	var all []string
	for _, s := range signals {
		for i := range rounds {
			all = append(all, leaderTarget(s.name, i, "redis"), leaderTarget(s.name, i, "hook"))
		}
	}
	if err := e.createDeployments(ctx, ns, all); err != nil {
		return res, err
	}
	if err := e.createScaledObjects(ctx, ns, all, func(i int) soSpec {
		if strings.HasSuffix(all[i], "-redis") {
			return r.redisSpec(all[i], 300*time.Second)
		}
		return soSpec{stream: all[i], target: "1", open: true, cooldown: 86400, maxReplicas: 1}
	}); err != nil {
		return res, err
	}

	progress("leader: building the gateway binary")
	bin, err := buildGatewayBinary(ctx)
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(filepath.Dir(bin))
	procs := &leaderProcs{bin: bin, kubeconfig: e.cp.Kubeconfig, ns: ns, lease: lease, renew: renew, retry: retry}
	defer procs.stopAll()
	holders, stopWatch, err := e.watchLeaseHolder(ctx, ns)
	if err != nil {
		return res, err
	}
	defer stopWatch()

	cur, err := procs.start(ctx)
	if err != nil {
		return res, err
	}
	if _, _, err := waitHolder(ctx, holders, cur.name, 2*lease+time.Minute); err != nil {
		return res, err
	}
	next, err := procs.start(ctx)
	if err != nil {
		return res, err
	}
	if err := e.waitScaledObjectsReady(ctx, ns, all, 2*time.Minute); err != nil {
		return res, err
	}
	seen, stopSeen, err := e.watchReplicasOne(ctx, ns, all)
	if err != nil {
		return res, err
	}
	defer stopSeen()
	rdb := r.srv.Client()

	for _, s := range signals {
		st := &LeaderStops{Signal: s.name, Rounds: rounds}
		res.Stops = append(res.Stops, st)
		var takeovers, exits, activations, releases, fromRelease []time.Duration
		for i := range rounds {
			listTarget, hookTarget := leaderTarget(s.name, i, "redis"), leaderTarget(s.name, i, "hook")
			t0 := time.Now()
			if err := cur.cmd.Process.Signal(s.sig); err != nil {
				return res, fmt.Errorf("signal %s: %w", cur.name, err)
			}
			if err := rdb.LPush(ctx, listTarget, "item").Err(); err != nil {
				return res, fmt.Errorf("LPUSH %s: %w", listTarget, err)
			}
			posted := make(chan error, 1)
			go func() {
				posted <- postUntilAccepted(ctx, next.webhook+"/v1/namespaces/"+ns+"/streams/"+hookTarget, leaderActivationWait)
			}()
			took, released, err := waitHolder(ctx, holders, next.name, lease+retry+time.Minute)
			if err != nil {
				return res, err
			}
			takeovers = append(takeovers, took.Sub(t0))
			if !released.IsZero() {
				releases = append(releases, released.Sub(t0))
				fromRelease = append(fromRelease, took.Sub(released))
			}
			for _, target := range []string{listTarget, hookTarget} {
				res.Activation++
				select {
				case at := <-seen[target]:
					activations = append(activations, max(0, at.Sub(took)))
				case <-time.After(leaderActivationWait):
					st.Lost++
					progress("leader: %s: %s was not woken within %s of the takeover", s.name, target, leaderActivationWait)
				case <-ctx.Done():
					return res, ctx.Err()
				}
			}
			if err := <-posted; err != nil {
				progress("leader: %s: the POST for %s: %v", s.name, hookTarget, err)
			}
			exitAt, err := cur.wait(time.Minute)
			if err != nil {
				return res, err
			}
			exits = append(exits, exitAt.Sub(t0))
			progress("leader: %s round %d: takeover %s, exit %s", s.name, i+1, took.Sub(t0).Round(time.Millisecond), exitAt.Sub(t0).Round(time.Millisecond))
			cur = next
			if next, err = procs.start(ctx); err != nil {
				return res, err
			}
		}
		st.Takeover, st.Exit, st.Activation = summarize(takeovers), summarize(exits), summarize(activations)
		st.Released, st.AfterRelease = summarize(releases), summarize(fromRelease)
		res.Lost += st.Lost
	}
	return res, nil
}

func leaderTarget(signal string, round int, kind string) string {
	return fmt.Sprintf("%s-%d-%s", strings.ToLower(strings.TrimPrefix(signal, "SIG")), round, kind)
}

// buildGatewayBinary builds cmd/pushscale as the image does (static,
// -trimpath) into a temporary folder; the caller removes the folder.
func buildGatewayBinary(ctx context.Context) (string, error) {
	dir, err := os.MkdirTemp("", "pushscale-bench-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "pushscale")
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", out, "./cmd/pushscale")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("go build ./cmd/pushscale: %w\n%s", err, b)
	}
	return out, nil
}

// leaderProcs starts the gateway processes of the part, each with its own
// loopback ports and POD_NAME bench-gw-<n>.
type leaderProcs struct {
	bin, kubeconfig, ns string
	lease, renew, retry time.Duration
	n                   int
	mu                  sync.Mutex
	running             []*gatewayProc
}

// gatewayProc is one gateway process.
type gatewayProc struct {
	name, webhook, metrics string
	cmd                    *exec.Cmd
	logs                   *lockedBuffer
	done                   chan struct{}
	exitedAt               time.Time
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// start runs the next process and waits until its /readyz answers 200.
func (p *leaderProcs) start(ctx context.Context) (*gatewayProc, error) {
	ports, err := freeLoopbackPorts(3)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.n++
	name := fmt.Sprintf("bench-gw-%d", p.n)
	p.mu.Unlock()
	args := []string{
		"--kubeconfig=" + p.kubeconfig,
		fmt.Sprintf("--webhook-addr=127.0.0.1:%d", ports[0]),
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--metrics-api-addr=127.0.0.1:%d", ports[2]),
		"--watch-namespace=" + p.ns, "--cluster-object-namespace=" + p.ns,
		"--manage-certificates=false", "--log-level=warn",
		"--leader-elect=true", "--leader-elect-lease-duration=" + p.lease.String(),
		"--leader-elect-renew-deadline=" + p.renew.String(), "--leader-elect-retry-period=" + p.retry.String(),
		"--advertise-address=127.0.0.1",
	}
	g, err := startGatewayProc(ctx, p.bin, name, args, []string{"POD_NAME=" + name},
		fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	if g != nil {
		p.mu.Lock()
		p.running = append(p.running, g)
		p.mu.Unlock()
	}
	return g, err
}

// startGatewayProc runs the gateway binary bin with args, PATH and environ
// as its whole environment, its output kept in its logs, killed if the
// bench dies; and waits (at most 2 minutes) until metrics/readyz answers
// 200. On error the process may still run: the caller stops it when g is
// not nil.
func startGatewayProc(ctx context.Context, bin, name string, args, environ []string, webhook, metrics string) (*gatewayProc, error) {
	g := &gatewayProc{name: name, webhook: webhook, metrics: metrics, logs: &lockedBuffer{}, done: make(chan struct{})}
	g.cmd = exec.Command(bin, args...)
	g.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, environ...)
	g.cmd.Stdout, g.cmd.Stderr = g.logs, g.logs
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := g.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		_ = g.cmd.Wait()
		g.exitedAt = time.Now()
		close(g.done)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		select {
		case <-g.done:
			return g, fmt.Errorf("%s exited before it was ready:\n%s", name, lastLines(g.logs.String(), 20))
		default:
		}
		if resp, err := http.Get(g.metrics + "/readyz"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g, nil
			}
		}
		if time.Now().After(deadline) {
			return g, fmt.Errorf("%s not ready within 2 minutes:\n%s", name, lastLines(g.logs.String(), 20))
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return g, err
		}
	}
}

// wait waits for g to exit and returns when it did.
func (g *gatewayProc) wait(timeout time.Duration) (time.Time, error) {
	select {
	case <-g.done:
		return g.exitedAt, nil
	case <-time.After(timeout):
		return time.Time{}, fmt.Errorf("%s did not exit within %s", g.name, timeout)
	}
}

// stopAll kills every process still running.
func (p *leaderProcs) stopAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.running {
		g.stop()
	}
}

// stop ends g unless it has exited: SIGTERM, then SIGKILL after 30 s.
func (g *gatewayProc) stop() {
	select {
	case <-g.done:
	default:
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		if _, err := g.wait(30 * time.Second); err != nil {
			_ = g.cmd.Process.Kill()
			<-g.done
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// holderSeen is a holder of the Lease and when the watch delivered it.
type holderSeen struct {
	holder string
	at     time.Time
}

// watchLeaseHolder delivers every holder of the gateway's Lease in ns as
// the watch sees it ("" when released).
func (e *env) watchLeaseHolder(ctx context.Context, ns string) (<-chan holderSeen, func(), error) {
	wctx, cancel := context.WithCancel(ctx)
	out := make(chan holderSeen, 64)
	leases := e.kube.CoordinationV1().Leases(ns)
	w, err := leases.Watch(wctx, metav1.ListOptions{FieldSelector: "metadata.name=" + leader.LeaseName})
	if err != nil {
		cancel()
		return nil, nil, err
	}
	go func() {
		for {
			for ev := range w.ResultChan() {
				at := time.Now()
				lease, ok := ev.Object.(*coordinationv1.Lease)
				if !ok {
					continue
				}
				var holder string
				if ev.Type != watch.Deleted && lease.Spec.HolderIdentity != nil {
					holder = *lease.Spec.HolderIdentity
				}
				select {
				case out <- holderSeen{holder: holder, at: at}:
				default:
				}
			}
			w.Stop()
			if wctx.Err() != nil {
				return
			}
			next, err := leases.Watch(wctx, metav1.ListOptions{FieldSelector: "metadata.name=" + leader.LeaseName})
			if err != nil {
				return // waitHolder then says the holder was not seen
			}
			w = next
		}
	}()
	return out, cancel, nil
}

// waitHolder waits until the Lease is held by the process named name
// (identities are <POD_NAME>_<suffix>) and returns when that was seen, and
// when a release (no holder) was seen before it (zero: none).
func waitHolder(ctx context.Context, holders <-chan holderSeen, name string, timeout time.Duration) (held, released time.Time, err error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case h := <-holders:
			if h.holder == "" {
				released = h.at
			}
			if strings.HasPrefix(h.holder, name+"_") {
				return h.at, released, nil
			}
		case <-t.C:
			return time.Time{}, time.Time{}, fmt.Errorf("%s did not hold the Lease within %s", name, timeout)
		case <-ctx.Done():
			return time.Time{}, time.Time{}, ctx.Err()
		}
	}
}

// postUntilAccepted POSTs level 1 to url until it is accepted (202),
// waiting as each refusal's Retry-After says (at least 100 ms).
func postUntilAccepted(ctx context.Context, url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"value":1}`))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		wait := 100 * time.Millisecond
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusAccepted {
				return nil
			}
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = time.Duration(s) * time.Second
			}
			err = fmt.Errorf("answered %s", resp.Status)
		}
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("not accepted within %s: %v", timeout, err)
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// waitScaledObjectsReady waits until every ScaledObject of names in ns is
// Ready.
func (e *env) waitScaledObjectsReady(ctx context.Context, ns string, names []string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, name := range names {
		for {
			var so kedav1.ScaledObject
			err := e.keda.Get().Namespace(ns).Resource("scaledobjects").Name(name).Do(ctx).Into(&so)
			if err == nil && so.Status.Conditions.IsTrue(kedav1.ConditionReady) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("ScaledObject %s/%s not Ready within %s (%v)", ns, name, timeout, err)
			}
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func printLeader(w io.Writer, r *LeaderResult) {
	fmt.Fprintf(w, "\nLeader election: takeover after the leader's SIGKILL and SIGTERM, and activations pushed meanwhile\n")
	wrap(w, "   method: ", r.Method)
	bound := time.Duration((r.LeaseS + r.RetryS) * float64(time.Second))
	for _, s := range r.Stops {
		limit := ""
		if s.Signal == "SIGKILL" {
			limit = fmt.Sprintf(" (lease + retry period: %s)", bound)
		}
		fmt.Fprintf(w, "   %s, %d round(s): takeover p50 %s, max %s after the signal%s; leader exited after p50 %s; "+
			"activation after the takeover p50 %s, max %s; lost %d\n",
			s.Signal, s.Rounds, fmtMs(s.Takeover.P50Ms), fmtMs(s.Takeover.MaxMs), limit, fmtMs(s.Exit.P50Ms),
			fmtMs(s.Activation.P50Ms), fmtMs(s.Activation.MaxMs), s.Lost)
		if s.Released.N > 0 {
			fmt.Fprintf(w, "      the Lease released p50 %s, max %s after the signal; taken over p50 %s, max %s after the release\n",
				fmtMs(s.Released.P50Ms), fmtMs(s.Released.MaxMs), fmtMs(s.AfterRelease.P50Ms), fmtMs(s.AfterRelease.MaxMs))
		}
	}
	fmt.Fprintf(w, "   activations pushed while no replica led or during a handover: %d, lost %d\n", r.Activation, r.Lost)
}

// checkLeader adds the part's checks: no activation lost; a SIGKILL taken
// over within lease + retry period; a SIGTERM within a retry period.
func (r *Report) checkLeader() {
	res := r.Leader
	if res == nil {
		return
	}
	r.Checks = append(r.Checks, Check{What: "leader election: activations lost across takeovers",
		Target: "0", Got: strconv.Itoa(res.Lost), Pass: res.Lost == 0 && res.Activation > 0})
	for _, s := range res.Stops {
		if s.Signal == "SIGKILL" {
			limit := (res.LeaseS + res.RetryS) * 1000
			r.Checks = append(r.Checks, Check{What: "leader election: takeover after SIGKILL, max",
				Target: fmt.Sprintf("≤ %s (lease + retry period)", fmtMs(limit)), Got: fmtMs(s.Takeover.MaxMs), Pass: s.Rounds > 0 && s.Takeover.MaxMs <= limit})
			continue
		}
		// A graceful stop hands over at once: from the release, well
		// within a retry period (client-go's candidates: up to 2.2).
		limit := res.RetryS * 1000 / 2
		r.Checks = append(r.Checks, Check{What: "leader election: takeover after " + s.Signal + ", from the release, max",
			Target: fmt.Sprintf("≤ %s (half the retry period)", fmtMs(limit)), Got: fmtMs(s.AfterRelease.MaxMs),
			Pass: s.AfterRelease.N == s.Rounds && s.Rounds > 0 && s.AfterRelease.MaxMs <= limit})
	}
}
