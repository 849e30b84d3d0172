package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ThroughputResult is one run of measurement 2: webhook ingest.
type ThroughputResult struct {
	Name string `json:"name"`
	// Generator is "in-process" (the net/http client of this process)
	// or "wrk" (a separate process).
	Generator   string  `json:"generator"`
	Streams     int     `json:"streams"`
	Auth        bool    `json:"auth"`
	Connections int     `json:"connections"`
	WindowS     float64 `json:"window_s"`
	// EventsPerRequest is 1 for POST {"delta": 1}, else the size of each
	// CloudEvents batch.
	EventsPerRequest int `json:"events_per_request"`
	// Accepted counts the 202 answers completed inside the window.
	Accepted     int64   `json:"accepted"`
	RequestsPerS float64 `json:"requests_per_s"`
	// EventsPerS is RequestsPerS × EventsPerRequest.
	EventsPerS float64 `json:"events_per_s"`
	// NonAccepted counts every answer other than 202, warm-up included, by
	// status code; TransportErrors the requests with no answer.
	NonAccepted     map[string]int64 `json:"non_202_by_status"`
	TransportErrors int64            `json:"transport_errors"`
	FirstError      string           `json:"first_error,omitempty"`
	Latency         Summary          `json:"request_latency"`
	CPU             cpuUse           `json:"cpu"`
	// LevelOK: the streams' levels grew by exactly the number of 202s.
	LevelOK    bool   `json:"level_ok"`
	LevelCheck string `json:"level_check"`
	// APIRequests are the most frequent apiserver requests during the
	// window (from everyone: gateway, controllers, the bench).
	APIRequests []apiCount `json:"apiserver_requests"`
	// Reference marks the calibration run against a trivial handler: not
	// the gateway, not compared with the target.
	Reference bool `json:"reference"`
}

// loadSpec is one run of the load generator.
type loadSpec struct {
	name           string
	urls           []string // round-robin
	token          string   // bearer token; "" for none
	conns          int
	warmup, window time.Duration
	// batch > 1 sends each request as a CloudEvents batch of that many
	// events, each with data {"delta": 1}.
	batch int
	// profile, when not empty, receives a CPU profile of the window.
	profile string
	// serverPID, if not 0, is the server's own process: its CPU is
	// measured, and with profileServer its CPU profile over the window is
	// fetched from /debug/pprof/profile into profile.
	serverPID     int
	profileServer string // the server's base URL for /debug/pprof
}

const ingestNamespace = "bench-ingest"

// measureIngest runs a trivial handler's reference, then throughput (a)
// one stream opened with allowUnauthenticated, (b) one stream with a
// bearer token and (d) that stream taking CloudEvents batches (many events
// per request, as batch mode is for).
func measureIngest(ctx context.Context, e *env, cfg config) ([]*ThroughputResult, error) {
	ns := ingestNamespace
	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	token := e.token
	if err := e.ensureHookAuth(ctx, ns); err != nil {
		return nil, err
	}
	open := idleSpec("open", "")
	open.open = true
	objs := []string{"open", "secure"}
	specs := []soSpec{open, idleSpec("secure", hookAuth)}
	ready, err := e.watchReadiness(ctx, ns, len(objs))
	if err != nil {
		return nil, err
	}
	err = e.createDeployments(ctx, ns, objs)
	if err == nil {
		err = e.createScaledObjects(ctx, ns, objs, func(i int) soSpec { return specs[i] })
	}
	if err == nil {
		_, err = ready.wait(ctx, 2*time.Minute)
	}
	ready.stop()
	if err != nil {
		return nil, err
	}
	// Auth must really be on for run (b): a request without the token is
	// refused.
	if code, _, err := e.get(ctx, e.streamURL(ns, "secure"), ""); err != nil || code != http.StatusUnauthorized {
		return nil, fmt.Errorf("stream secure answers %d (%v) without a token, want 401", code, err)
	}
	// The runs drive the gateway binary in its own process (on the same
	// ports), so that the figure is the gateway's alone beside the
	// reference server's, which runs in its own too; the in-process
	// gateway comes back afterwards.
	g, err := e.useGatewayProcess(ctx, nil)
	if err != nil {
		return nil, err
	}
	out, err := ingestRuns(ctx, e, cfg, g, ns, token)
	if rerr := e.useGateway(ctx, nil); rerr != nil && err == nil {
		err = rerr
	}
	return out, err
}

// ingestRuns are the runs of measureIngest against the gateway process g,
// each generator's after its reference run, just before: so that both see
// the machine as alike as it can be.
func ingestRuns(ctx context.Context, e *env, cfg config, g *gatewayProc, ns, token string) ([]*ThroughputResult, error) {
	var out []*ThroughputResult
	ref, err := measureReference(ctx, e, cfg)
	if ref != nil {
		out = append(out, ref)
	}
	if err != nil {
		return out, err
	}
	for _, l := range []loadSpec{
		{name: "(a) 1 stream, open (allowUnauthenticated)", urls: []string{e.streamURL(ns, "open")}},
		{name: "(b) 1 stream, Bearer token", urls: []string{e.streamURL(ns, "secure")}, token: token},
		{name: fmt.Sprintf("(d) 1 stream, Bearer token, CloudEvents batches of %d", cfg.ceBatch), urls: []string{e.streamURL(ns, "secure")}, token: token, batch: cfg.ceBatch},
	} {
		l.conns, l.warmup, l.window = cfg.conns, cfg.warmup, cfg.duration
		l.profile, l.serverPID = cfg.profilePath(l.name), g.pid()
		if l.profile != "" {
			l.profileServer = g.metrics
		}
		r, err := runLoad(ctx, e, l)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	// The same with a generator in its own process.
	ref, err = measureReferenceWrk(ctx, e, cfg)
	if err != nil {
		return out, err
	}
	if ref != nil {
		out = append(out, ref)
	}
	for _, w := range []struct {
		name, stream, token string
		batch               int
	}{
		{"(e) wrk, 1 stream, open (allowUnauthenticated)", "open", "", 1},
		{fmt.Sprintf("(f) wrk, 1 stream, Bearer token, CloudEvents batches of %d", cfg.ceBatch), "secure", token, cfg.ceBatch},
	} {
		r, err := measureWrk(ctx, e, cfg, w.name, e.streamURL(ns, w.stream), w.token, w.batch, g.pid())
		if err != nil {
			return out, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// runLoad drives l.conns keep-alive connections, each sending POST
// {"delta": 1} back to back, for l.warmup (not counted) then l.window.
func runLoad(ctx context.Context, e *env, l loadSpec) (*ThroughputResult, error) {
	progress("throughput %s: %d connections, %s warm-up + %s", l.name, l.conns, l.warmup, l.window)
	levelBefore, err := e.levelSum(ctx, l.urls, l.token)
	if err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:               nil, // loopback only, whatever the environment says
		MaxIdleConns:        l.conns,
		MaxIdleConnsPerHost: l.conns,
		MaxConnsPerHost:     l.conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	var phase atomic.Int32 // phaseWarmup, phaseMeasure, phaseStop
	var next atomic.Uint64
	workers := make([]loadWorker, l.conns)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() { w.run(ctx, client, l, &phase, &next) })
	}
	stopAll := func() { phase.Store(phaseStop); wg.Wait() }

	if err := sleep(ctx, l.warmup); err != nil {
		stopAll()
		return nil, err
	}
	var stopProfile func()
	if l.profileServer != "" {
		stopProfile = startServerProfile(ctx, e, l.profileServer, l.window, l.profile)
	} else if stopProfile, err = startProfile(l.profile); err != nil {
		stopAll()
		return nil, err
	}
	req0 := e.apiserverRequestsOrNil(ctx)
	cpu := startCPUWith(e, l.serverPID)
	t0 := time.Now()
	phase.Store(phaseMeasure)
	err = sleep(ctx, l.window)
	phase.Store(phaseStop)
	window := time.Since(t0)
	res := &ThroughputResult{Name: l.name, Generator: "in-process", Streams: len(l.urls), Auth: l.token != "", Connections: l.conns,
		EventsPerRequest: max(l.batch, 1), WindowS: window.Seconds(), NonAccepted: map[string]int64{}, CPU: cpu.stop()}
	res.APIRequests = topRates(req0, e.apiserverRequestsOrNil(ctx), window.Seconds(), topRequests)
	stopProfile()
	wg.Wait()
	if err != nil {
		return nil, err
	}

	var total202 int64
	var lat []time.Duration
	for i := range workers {
		w := &workers[i]
		res.Accepted += w.accepted
		total202 += w.total202
		res.TransportErrors += w.errors
		if res.FirstError == "" {
			res.FirstError = w.firstErr
		}
		for code, n := range w.refused {
			res.NonAccepted[strconv.Itoa(code)] += n
		}
		lat = append(lat, w.lat...)
	}
	res.RequestsPerS = float64(res.Accepted) / window.Seconds()
	res.EventsPerS = res.RequestsPerS * float64(res.EventsPerRequest)
	res.Latency = summarize(lat)

	levelAfter, err := e.levelSum(ctx, l.urls, l.token)
	if err != nil {
		return nil, err
	}
	want := float64(total202) * float64(res.EventsPerRequest)
	res.LevelOK = levelAfter-levelBefore == want
	res.LevelCheck = fmt.Sprintf("levels grew by %.0f, %d answers were 202 for %d event(s) each", levelAfter-levelBefore, total202, res.EventsPerRequest)
	return res, nil
}

const (
	phaseWarmup int32 = iota
	phaseMeasure
	phaseStop
)

// loadWorker is one connection's request loop; its fields are its own
// until the run's WaitGroup is done.
type loadWorker struct {
	accepted, total202, errors int64
	refused                    map[int]int64
	firstErr                   string
	lat                        []time.Duration
}

var (
	contentTypeJSON  = []string{"application/json"}
	contentTypeBatch = []string{"application/cloudevents-batch+json"}
	deltaBody        = []byte(`{"delta": 1}`)
)

// batchBody is a CloudEvents batch of n events, each adding 1.
func batchBody(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"specversion":"1.0","id":"%d","source":"/bench","type":"bench.job","datacontenttype":"application/json","data":{"delta":1}}`, i)
	}
	b.WriteByte(']')
	return b.Bytes()
}

func (w *loadWorker) run(ctx context.Context, client *http.Client, l loadSpec, phase *atomic.Int32, next *atomic.Uint64) {
	w.refused = map[int]int64{}
	w.lat = make([]time.Duration, 0, 1<<14)
	var auth []string
	if l.token != "" {
		auth = []string{"Bearer " + l.token}
	}
	payload, contentType := deltaBody, contentTypeJSON
	if l.batch > 1 {
		payload, contentType = batchBody(l.batch), contentTypeBatch
	}
	body := bytes.NewReader(payload)
	for phase.Load() != phaseStop && ctx.Err() == nil {
		url := l.urls[0]
		if len(l.urls) > 1 {
			url = l.urls[next.Add(1)%uint64(len(l.urls))]
		}
		body.Reset(payload)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
		if err != nil {
			w.fail(err)
			return
		}
		req.Header["Content-Type"] = contentType // shared, never modified
		if auth != nil {
			req.Header["Authorization"] = auth
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				w.fail(err)
				_ = sleep(ctx, time.Millisecond) // no busy loop against a dead listener
			}
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(t0)
		if resp.StatusCode == http.StatusAccepted {
			w.total202++
		} else {
			w.refused[resp.StatusCode]++
		}
		if phase.Load() == phaseMeasure {
			if resp.StatusCode == http.StatusAccepted {
				w.accepted++
			}
			w.lat = append(w.lat, d)
		}
	}
}

func (w *loadWorker) fail(err error) {
	w.errors++
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
}

// levelSum reads every stream's level and returns their sum.
func (e *env) levelSum(ctx context.Context, urls []string, token string) (float64, error) {
	sum := 0.0
	for _, u := range urls {
		code, body, err := e.get(ctx, u, token)
		if err != nil {
			return 0, fmt.Errorf("GET %s: %w", u, err)
		}
		if code != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %s", u, code, body)
		}
		var v struct {
			Value float64 `json:"value"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return 0, fmt.Errorf("GET %s: %w: %s", u, err, body)
		}
		sum += v.Value
	}
	return sum, nil
}

// startProfile starts a CPU profile into path ("" for none) and returns
// what stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			progress("-cpuprofile: %v", err)
		} else {
			progress("CPU profile of the window in %s", path)
		}
	}, nil
}

// startServerProfile fetches a CPU profile of the next window (whole
// seconds, at least 1) from base's /debug/pprof/profile into path, in the
// background; the function it returns waits for it. A failure is reported,
// not returned: the profile is a diagnostic.
func startServerProfile(ctx context.Context, e *env, base string, window time.Duration, path string) func() {
	secs := max(1, int((window+time.Second-1)/time.Second))
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: time.Duration(secs)*time.Second + 30*time.Second, Transport: &http.Transport{Proxy: nil}}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", base, secs), nil)
		if err != nil {
			progress("-cpuprofile: %v", err)
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			progress("-cpuprofile: %v", err)
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", resp.Status, b)
		}
		if err == nil {
			err = os.WriteFile(path, b, 0o644)
		}
		if err != nil {
			progress("-cpuprofile: the gateway process's profile: %v", err)
			return
		}
		progress("CPU profile of the gateway process over the window in %s", path)
	}()
	return func() { <-done }
}

// randomToken is a fresh bearer token; it is never printed.
func randomToken() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
