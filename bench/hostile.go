package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HostileResult is the hostile part: a legitimate, authenticated stream
// activating one target at a time while the webhook port is attacked.
type HostileResult struct {
	Method      string `json:"method"`
	Activations int    `json:"activations"`
	// ToReplicas is POST → spec.replicas = 1 seen on a watch, during the
	// attack.
	ToReplicas Summary `json:"post_to_replicas_seen"`
	// RSS of this process (gateway and bench): idle before the attack
	// (after a GC), the highest sampled during it, and the growth.
	IdleRSSMiB   float64 `json:"idle_rss_mib"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	RSSGrowthMiB float64 `json:"rss_growth_mib"`
	// Panics counts "panic serving" lines net/http logged (a handler that
	// panicked) during the attack.
	Panics int64 `json:"panics"`
	// Attacks are the requests of each attack, by answer.
	Attacks []*AttackCount `json:"attacks"`
}

// AttackCount is what one attack sent and what came back.
type AttackCount struct {
	Name string `json:"name"`
	// Sent counts requests (or slow connections opened); ByStatus their
	// answers; Dropped those that got no answer (connection closed or
	// timed out by the gateway).
	Sent     int64            `json:"sent"`
	ByStatus map[string]int64 `json:"by_status"`
	Dropped  int64            `json:"dropped"`

	sent atomic.Int64
	mu   sync.Mutex
}

func (a *AttackCount) answered(code int) {
	a.mu.Lock()
	a.ByStatus[fmt.Sprint(code)]++
	a.mu.Unlock()
}

func (a *AttackCount) dropped() {
	a.mu.Lock()
	a.Dropped++
	a.mu.Unlock()
}

// The targets of the hostile part (DESIGN.md).
const (
	targetHostileRSSMiB = 100.0 // growth above idle
	targetHostileP99    = 50.0  // ms, legitimate activation during the attack
)

const hostileNamespace = "bench-hostile"

// slowBodyPeriod is how often a slow-body connection sends one more byte.
const slowBodyPeriod = time.Second

// measureHostile runs the hostile part: cfg.activations Deployments, each
// with a ScaledObject on its own token-authenticated stream, activated one
// at a time (as measureLatency does) while three attacks run from other
// loopback source addresses, every connection to 127.0.0.1 only:
//   - cfg.hostileSlow connections each sending a POST that declares a
//     1 MiB body and sends one byte a second (redialled when the gateway
//     drops them), with a bearer token that is wrong (it is only checked
//     once the body is in);
//   - cfg.hostileConns connections posting, back to back, 1 MiB
//     CloudEvents batches of tiny events with a valid token of a stream of
//     their own (decoding stops at --webhook-max-batch-events: 413);
//   - cfg.hostileConns connections posting, back to back, with a wrong
//     HMAC signature to a stream that has a secret (401, then 429 once the
//     address's refusal budget is spent).
func measureHostile(ctx context.Context, e *env, cfg config) (*HostileResult, error) {
	n, ns := cfg.activations, hostileNamespace
	res := &HostileResult{Activations: n, Method: fmt.Sprintf(
		"%d Deployments at 0 in one namespace, each with a ScaledObject on its own stream with a bearer token "+
			"(TriggerAuthentication), activated one at a time %s apart as in part 1 (POST {\"value\": 1} with the token → "+
			"spec.replicas == 1 on a Deployment informer), while, from other loopback source addresses (one each, so that "+
			"the per-address refusal throttle meets each attacker separately): %d slow-body connections (Content-Length "+
			"1 MiB, one byte every %s, a wrong token, redialled when dropped); %d connections posting 1 MiB CloudEvents "+
			"batches of tiny events back to back with a valid token of their own stream; %d connections posting wrong "+
			"HMAC signatures back to back. RSS is this process's VmRSS (gateway and bench together): after a GC before "+
			"the attack, and the highest of samples every 100 ms during it. Panics are net/http's \"panic serving\" log lines.",
		n, activationPause, cfg.hostileSlow, slowBodyPeriod, cfg.hostileConns, cfg.hostileConns)}

	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	flood, err := randomToken()
	if err != nil {
		return nil, err
	}
	secret, err := randomToken()
	if err != nil {
		return nil, err
	}
	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	for _, a := range []struct{ name, param, value string }{
		{"hook", "token", token}, {"flood", "token", flood}, {"signed", "hmacSecret", secret},
	} {
		if err := e.createSecretAuth(ctx, ns, a.name, a.param, a.value); err != nil {
			return nil, err
		}
	}
	objs := names("legit", n)
	all := append([]string{"flood", "signed"}, objs...)
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	ready, err := e.watchReadiness(ctx, ns, len(all))
	if err != nil {
		return nil, err
	}
	err = e.createDeployments(ctx, ns, all)
	if err == nil {
		err = e.createScaledObjects(ctx, ns, all, func(i int) soSpec {
			switch all[i] {
			case "flood", "signed":
				return idleSpec(all[i], all[i])
			}
			return soSpec{stream: all[i], target: "1", cooldown: 86400, maxReplicas: 1, authRef: "hook"}
		})
	}
	if err == nil {
		_, err = ready.wait(ctx, 2*time.Minute)
	}
	ready.stop()
	if err != nil {
		return nil, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, len(all), 2*time.Minute); err != nil {
		return nil, err
	}
	if code, body, err := e.get(ctx, e.streamURL(ns, objs[0]), token); err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("GET stream %s: %d %s %v", objs[0], code, body, err)
	}

	_, idle, err := memoryInUse()
	if err != nil {
		return nil, err
	}
	res.IdleRSSMiB = mib(idle)
	panics := &lineCounter{w: os.Stderr, match: "panic serving"}
	log.SetOutput(panics) // net/http logs a recovered handler panic here
	defer log.SetOutput(os.Stderr)

	actx, stopAttack := context.WithCancel(ctx)
	var wg sync.WaitGroup
	peak := idle
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-actx.Done():
				return
			case <-t.C:
				if r, err := rssBytes(); err == nil && r > peak {
					peak = r
				}
			}
		}
	})
	addr := strings.TrimPrefix(e.webhook, "http://")
	res.Attacks = []*AttackCount{
		slowBodies(actx, &wg, addr, ns, objs[0], cfg.hostileSlow),
		floodLoop(actx, &wg, e, "1 MiB CloudEvents batches, valid token", cfg.hostileConns, 20,
			e.streamURL(ns, "flood"), maxBatchBody(1<<20-64), map[string]string{"Content-Type": contentTypeBatch[0], "Authorization": "Bearer " + flood}),
		floodLoop(actx, &wg, e, "wrong HMAC signatures", cfg.hostileConns, 40,
			e.streamURL(ns, "signed"), []byte(`{"value": 1}`), map[string]string{"Content-Type": "application/json",
				"X-Pushscale-Signature": "sha256=" + strings.Repeat("0", 64)}),
	}
	// Let the slow connections pile up before the first activation.
	err = sleep(ctx, min(3*time.Second, time.Duration(n)*activationPause))

	var times []time.Duration
	for i, name := range objs {
		if err != nil {
			break
		}
		if err = sleep(ctx, activationPause); err != nil {
			break
		}
		t0 := time.Now()
		code, body, perr := e.post(ctx, e.streamURL(ns, name), `{"value": 1}`, token)
		if perr != nil || code != http.StatusAccepted {
			err = fmt.Errorf("activation %d (%s) during the attack: POST answered %d %s %v", i, name, code, body, perr)
			break
		}
		select {
		case t1 := <-seen[name]:
			times = append(times, t1.Sub(t0))
		case <-time.After(activationTimeout):
			err = fmt.Errorf("activation %d (%s) during the attack: spec.replicas did not become 1 within %s", i, name, activationTimeout)
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	stopAttack()
	wg.Wait()
	log.SetOutput(os.Stderr)
	res.PeakRSSMiB = mib(peak)
	res.RSSGrowthMiB = mib(peak) - mib(idle)
	res.Panics = panics.n.Load()
	for _, a := range res.Attacks {
		a.Sent = a.sent.Load()
	}
	res.ToReplicas = summarize(times)
	if err != nil {
		return res, err
	}
	stopWatch()
	return res, e.deleteNamespace(ctx, ns, 0)
}

// loopbackSource returns a dialer bound to loopback source address i of
// 127.0.<1+i/250>.<1+i%250> (Linux routes all of 127/8 to lo), with a
// short connect timeout.
func loopbackSource(i int) *net.Dialer {
	ip := net.IPv4(127, 0, byte(1+i/250), byte(1+i%250))
	return &net.Dialer{Timeout: 2 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
}

// slowBodies keeps conns connections, each from its own source address,
// sending a POST to stream of ns that declares a 1 MiB body and delivers
// one byte every slowBodyPeriod, redialling when the gateway drops one,
// until ctx is done.
func slowBodies(ctx context.Context, wg *sync.WaitGroup, addr, ns, stream string, conns int) *AttackCount {
	a := &AttackCount{Name: fmt.Sprintf("%d slow-body connections (1 MiB declared, 1 byte/s, wrong token)", conns), ByStatus: map[string]int64{}}
	head := fmt.Sprintf("POST /v1/namespaces/%s/streams/%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Authorization: Bearer not-the-token\r\nContent-Length: %d\r\n\r\n", ns, stream, addr, 1<<20)
	for i := range conns {
		d := loopbackSource(i)
		wg.Go(func() {
			for ctx.Err() == nil {
				a.sent.Add(1)
				slowBody(ctx, d, addr, head, a)
			}
		})
	}
	return a
}

// slowBody sends one slow request on a new connection until the gateway
// answers or drops it, or ctx is done.
func slowBody(ctx context.Context, d *net.Dialer, addr, head string, a *AttackCount) {
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil {
			a.dropped()
			_ = sleep(ctx, slowBodyPeriod)
		}
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	answer := make(chan int, 1)
	go func() { // reads the answer, if any
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			answer <- 0
			return
		}
		resp.Body.Close()
		answer <- resp.StatusCode
	}()
	if _, err := io.WriteString(c, head); err == nil {
		t := time.NewTicker(slowBodyPeriod)
		defer t.Stop()
	loop:
		for ctx.Err() == nil {
			select {
			case <-t.C:
				if _, err := c.Write([]byte{' '}); err != nil {
					break loop
				}
			case code := <-answer:
				answer <- code
				break loop
			case <-ctx.Done():
			}
		}
	}
	c.Close()
	if code := <-answer; code != 0 {
		a.answered(code)
	} else if ctx.Err() == nil {
		a.dropped()
	}
}

// floodLoop runs conns connections, each from its own source address
// (after first), posting body with header back to back until ctx is done.
func floodLoop(ctx context.Context, wg *sync.WaitGroup, e *env, name string, conns, first int, url string, body []byte, header map[string]string) *AttackCount {
	a := &AttackCount{Name: fmt.Sprintf("%d connections: %s", conns, name), ByStatus: map[string]int64{}}
	for i := range conns {
		tr := &http.Transport{Proxy: nil, DialContext: loopbackSource(first*250 + i).DialContext, MaxIdleConnsPerHost: 1, DisableCompression: true}
		client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		wg.Go(func() {
			defer tr.CloseIdleConnections()
			rd := bytes.NewReader(body)
			for ctx.Err() == nil {
				rd.Reset(body)
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, rd)
				if err != nil {
					return
				}
				for k, v := range header {
					req.Header.Set(k, v)
				}
				a.sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						a.dropped()
						_ = sleep(ctx, time.Millisecond)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				a.answered(resp.StatusCode)
			}
		})
	}
	return a
}

// maxBatchBody is a CloudEvents batch of as many tiny events as fit in
// size bytes.
func maxBatchBody(size int) []byte {
	const ev = `{"specversion":"1.0","id":"x","source":"/a","type":"t","data":{"delta":1}}`
	var b bytes.Buffer
	b.WriteByte('[')
	for b.Len()+len(ev)+2 <= size {
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		b.WriteString(ev)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// lineCounter passes writes to w and counts those holding match. The
// standard logger writes one line per call.
type lineCounter struct {
	w     io.Writer
	match string
	n     atomic.Int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(l.match)) {
		l.n.Add(1)
	}
	return l.w.Write(p)
}

// checkHostile compares the hostile part with its targets; a panic is a
// failure, not a missed target.
func (r *Report) checkHostile() {
	h := r.Hostile
	if h == nil {
		return
	}
	r.Checks = append(r.Checks,
		Check{What: "RSS growth under hostile load", Target: fmt.Sprintf("< %g MiB above idle", targetHostileRSSMiB),
			Got: fmt.Sprintf("%.1f MiB", h.RSSGrowthMiB), Pass: h.RSSGrowthMiB < targetHostileRSSMiB},
		Check{What: "webhook POST → spec.replicas=1 p99 under hostile load", Target: fmt.Sprintf("< %g ms", targetHostileP99),
			Got: fmt.Sprintf("%.1f ms", h.ToReplicas.P99Ms), Pass: h.ToReplicas.N > 0 && h.ToReplicas.P99Ms < targetHostileP99})
	if h.Panics > 0 {
		r.Failures = append(r.Failures, fmt.Sprintf("hostile: %d requests panicked", h.Panics))
	}
}

func printHostile(w io.Writer, h *HostileResult) {
	fmt.Fprintf(w, "\nH. Hostile load on the webhook port (%d activations of a legitimate authenticated stream)\n", h.Activations)
	wrap(w, "   method: ", h.Method)
	s := h.ToReplicas
	fmt.Fprintf(w, "   POST → spec.replicas=1 during the attack: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms (n=%d)\n",
		s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs, s.N)
	fmt.Fprintf(w, "   RSS: %.1f MiB idle, %.1f MiB at the highest, growth %.1f MiB; requests that panicked: %d\n",
		h.IdleRSSMiB, h.PeakRSSMiB, h.RSSGrowthMiB, h.Panics)
	for _, a := range h.Attacks {
		codes := make([]string, 0, len(a.ByStatus))
		for c, n := range a.ByStatus {
			codes = append(codes, fmt.Sprintf("%s×%s", c, thousands(n)))
		}
		sort.Strings(codes)
		if len(codes) == 0 {
			codes = []string{"none"}
		}
		fmt.Fprintf(w, "   %s: %s sent; answers %s; %s closed or failed without an answer\n", a.Name, thousands(a.Sent), strings.Join(codes, " "), thousands(a.Dropped))
	}
}
