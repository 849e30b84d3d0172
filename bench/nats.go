package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/sources/natsjetstream"
	"github.com/pushscale/pushscale/sources/natsjetstream/natstest"
)

// This file is the nats-jetstream part: publish → spec.replicas = 1 by push
// and by polling at 1 s (push disabled) in the same run, and what idle
// triggers cost the server.

const (
	natsPushNamespace = "bench-nats-push"
	natsPollNamespace = "bench-nats-poll"
	natsIdleNamespace = "bench-nats-idle"
	// natsIdleStreams spreads the idle consumers over this many streams:
	// each stream costs the gateway one ordered consumer.
	natsIdleStreams = 10
)

// NATSResult is the nats-jetstream part.
type NATSResult struct {
	Method string        `json:"method"`
	Series []*NATSSeries `json:"series"`
	Idle   *NATSIdle     `json:"idle,omitempty"`
}

// NATSSeries is one series of activations.
type NATSSeries struct {
	Name             string  `json:"name"`
	Push             bool    `json:"push"`
	PollingIntervalS float64 `json:"polling_interval_s"`
	Activations      int     `json:"activations"`
	Schedule         string  `json:"schedule"`
	ReadyS           float64 `json:"ready_with_hpas_s"`
	PushHealth       string  `json:"push_health"`
	ToReplicas       Summary `json:"publish_to_replicas_seen"`
	PublishRTT       Summary `json:"publish_round_trip"`
}

// NATSIdle is what idle triggers cost the NATS server over a window.
type NATSIdle struct {
	Objects  int     `json:"objects"`
	Streams  int     `json:"streams"`
	ReadyS   float64 `json:"ready_with_hpas_s"`
	WindowS  float64 `json:"window_s"`
	APIPerS  float64 `json:"jetstream_api_requests_per_s"`
	MsgsInS  float64 `json:"client_messages_in_per_s"`
	Conns    int     `json:"connections"`
	PushInfo string  `json:"push_health"`
}

func natsMethod() string {
	return fmt.Sprintf("One embedded nats-server (JetStream, loopback, a token the ScaledObjects get through a "+
		"TriggerAuthentication secretTargetRef, parameter clientToken) per series; one stream \"bench\" (subjects bench.>) "+
		"with one durable pull consumer per target, filtered on bench.<target>; one Deployment at 0 per target, its "+
		"ScaledObject of KEDA's nats-jetstream shape plus natsClientURL (lagThreshold 1, cooldownPeriod 86400, "+
		"maxReplicaCount 1). t0 just before a JetStream publish to bench.<target> (acknowledged publish, keep-alive "+
		"connection), t1 when a Deployment informer delivers spec.replicas == 1. (a) push, one at a time %s apart, on "+
		"the first gateway; (b) pollingInterval 1 s on a gateway restarted with DisablePush [%q] watching %s only, "+
		"each target published to at a random moment within its series' spread. Idle: ScaledObjects over %d streams "+
		"on the push gateway; over the window the server's JetStream API requests (/jsz api.total) and client "+
		"messages in (/varz in_msgs, minus the bench's own two monitoring requests, which are HTTP) per second.",
		activationPause, natsjetstream.Type, natsPollNamespace, natsIdleStreams)
}

// natsBench is one server with the Secret and TriggerAuthentication of a
// namespace.
type natsBench struct {
	srv *natstest.Server
	dir string
	js  jetstream.JetStream
}

// startNATS switches to the gateway gw (nil: the first one), makes sure ns
// exists, and starts a server whose token ns's TriggerAuthentication
// "nats" holds. The caller must call close.
func (e *env) startNATS(ctx context.Context, ns string, gw func(*gateway.Options)) (*natsBench, error) {
	if err := e.useGateway(ctx, gw); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pushscale-bench-nats-")
	if err != nil {
		return nil, err
	}
	srv, err := natstest.New(natstest.Options{Token: token}, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &natsBench{srv: srv, dir: dir}
	if b.js, err = srv.JetStream(); err != nil {
		b.close()
		return nil, err
	}
	if err := e.createSecretAuth(ctx, ns, "nats", "clientToken", token); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

func (b *natsBench) close() {
	b.srv.Stop()
	os.RemoveAll(b.dir)
}

// consumers creates the stream (once) and a durable consumer per target.
func (b *natsBench) consumers(ctx context.Context, stream string, objs []string) error {
	if _, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{stream + ".>"}}); err != nil {
		return fmt.Errorf("create stream: %w", err)
	}
	return forEach(ctx, len(objs), func(ctx context.Context, i int) error {
		_, err := b.js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
			Durable: objs[i], AckPolicy: jetstream.AckExplicitPolicy, FilterSubject: stream + "." + objs[i]})
		return err
	})
}

func (b *natsBench) spec(stream, consumer string, polling time.Duration) soSpec {
	return soSpec{cooldown: 86400, maxReplicas: 1, authRef: "nats", pollingInterval: int32(polling / time.Second),
		nats: &natsConsumer{monitoring: b.srv.MonitoringEndpoint(), clientURL: b.srv.ClientURL(), stream: stream, consumer: consumer}}
}

// measureNATS runs the part: series (a), the idle window, series (b).
func measureNATS(ctx context.Context, e *env, cfg config) (*NATSResult, error) {
	res := &NATSResult{Method: natsMethod()}
	s, err := e.natsSeries(ctx, false, cfg.activations, 0)
	if s != nil {
		res.Series = append(res.Series, s)
	}
	if err != nil {
		return res, err
	}
	if res.Idle, err = e.natsIdle(ctx, cfg); err != nil {
		return res, err
	}
	s, err = e.natsSeries(ctx, true, cfg.pollTargets, time.Second)
	if s != nil {
		res.Series = append(res.Series, s)
	}
	return res, err
}

func (e *env) natsSeries(ctx context.Context, poll bool, n int, polling time.Duration) (*NATSSeries, error) {
	ns, name, want := natsPushNamespace, "(a) push", metav1.ConditionTrue
	var gw func(*gateway.Options)
	if poll {
		ns, name, want = natsPollNamespace, "(b) polling at 1 s", metav1.ConditionFalse
		gw = func(o *gateway.Options) { o.WatchNamespace = ns; o.DisablePush = []string{natsjetstream.Type} }
	}
	b, err := e.startNATS(ctx, ns, gw)
	if err != nil {
		return nil, err
	}
	defer b.close()
	objs := names("js", n)
	if err := b.consumers(ctx, "bench", objs); err != nil {
		return nil, err
	}
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	s := &NATSSeries{Name: name, Push: !poll, Activations: n, PollingIntervalS: polling.Seconds()}
	if polling == 0 {
		s.PollingIntervalS = 30
	}
	progress("nats %s: %d ScaledObjects on %s", name, n, b.srv.ClientURL())
	if s.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(i int) soSpec { return b.spec("bench", objs[i], polling) }, 2*time.Minute); err != nil {
		return nil, err
	}
	if s.PushHealth, err = e.waitPushHealth(ctx, ns, objs, want, 30*time.Second); err != nil {
		return nil, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, n, 2*time.Minute); err != nil {
		return nil, err
	}
	publish := func(ctx context.Context, target string) error {
		_, err := b.js.Publish(ctx, "bench."+target, []byte("job"))
		return err
	}
	if s.Schedule, s.ToReplicas, s.PublishRTT, err = activateAll(ctx, objs, seen, publish, !poll, polling); err != nil {
		return nil, err
	}
	progress("nats %s: p50 %s, p99 %s", name, fmtMs(s.ToReplicas.P50Ms), fmtMs(s.ToReplicas.P99Ms))
	stopWatch()
	return s, e.deleteNamespace(ctx, ns, 0)
}

// activateAll activates every target of objs with send and measures each
// until seen delivers its spec.replicas = 1: one at a time,
// activationPause apart, when pushed (a push has nothing to wait for but
// itself); otherwise in parallel, each at a random moment within the
// series' spread (a poll meets it anywhere in its interval). It returns
// the schedule's description and the two summaries.
func activateAll(ctx context.Context, objs []string, seen map[string]chan time.Time, send func(context.Context, string) error,
	push bool, polling time.Duration) (schedule string, toReplicas, rtt Summary, err error) {
	timeout := polling*11/10 + activationTimeout
	to, rt := make([]time.Duration, len(objs)), make([]time.Duration, len(objs))
	if push {
		schedule = fmt.Sprintf("one at a time, %s apart", activationPause)
		for i, obj := range objs {
			if err := sleep(ctx, activationPause); err != nil {
				return "", Summary{}, Summary{}, err
			}
			if to[i], rt[i], err = activateBy(ctx, send, seen[obj], obj, timeout); err != nil {
				return "", Summary{}, Summary{}, fmt.Errorf("activation %d: %w", i, err)
			}
		}
		return schedule, summarize(to), summarize(rt), nil
	}
	spread := staggerSpread(len(objs), polling)
	schedule = fmt.Sprintf("in parallel, each at a random moment within %s", fmtSeconds(spread))
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for i, obj := range objs {
		at := start.Add(rand.N(spread))
		g.Go(func() error {
			if err := sleep(gctx, time.Until(at)); err != nil {
				return err
			}
			var err error
			to[i], rt[i], err = activateBy(gctx, send, seen[obj], obj, timeout)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return "", Summary{}, Summary{}, err
	}
	return schedule, summarize(to), summarize(rt), nil
}

// activateBy sends one unit of work to target and waits for seen to
// deliver the moment its Deployment's spec.replicas became 1.
func activateBy(ctx context.Context, send func(context.Context, string) error, seen <-chan time.Time, target string, timeout time.Duration) (toReplicas, rtt time.Duration, err error) {
	t0 := time.Now()
	if err := send(ctx, target); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", target, err)
	}
	rtt = time.Since(t0)
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case t1 := <-seen:
		return t1.Sub(t0), rtt, nil
	case <-t.C:
		return 0, 0, fmt.Errorf("%s: spec.replicas did not become 1 within %s", target, timeout)
	case <-ctx.Done():
		return 0, 0, ctx.Err()
	}
}

// natsIdle measures what cfg.idleObjects idle push triggers cost the
// server over cfg.idleWindow.
func (e *env) natsIdle(ctx context.Context, cfg config) (*NATSIdle, error) {
	ns := natsIdleNamespace
	b, err := e.startNATS(ctx, ns, nil)
	if err != nil {
		return nil, err
	}
	defer b.close()
	objs := names("idle", cfg.idleObjects)
	streams := min(natsIdleStreams, len(objs))
	for s := range streams {
		var mine []string
		for i := s; i < len(objs); i += streams {
			mine = append(mine, objs[i])
		}
		if err := b.consumers(ctx, fmt.Sprintf("idle%d", s), mine); err != nil {
			return nil, err
		}
	}
	run := &NATSIdle{Objects: len(objs), Streams: streams, WindowS: cfg.idleWindow.Seconds()}
	progress("nats idle: %d ScaledObjects over %d streams", len(objs), streams)
	if run.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(i int) soSpec {
		return b.spec(fmt.Sprintf("idle%d", i%streams), objs[i], 30*time.Second)
	}, scaleReadyTimeout); err != nil {
		return nil, err
	}
	if run.PushInfo, err = e.waitPushHealth(ctx, ns, objs, metav1.ConditionTrue, time.Minute); err != nil {
		return nil, err
	}
	if err := sleep(ctx, idleSettle); err != nil {
		return nil, err
	}
	mon := "http://" + b.srv.MonitoringEndpoint()
	api0, in0, _, err := natsCounters(ctx, e.http, mon)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, cfg.idleWindow); err != nil {
		return nil, err
	}
	api1, in1, conns, err := natsCounters(ctx, e.http, mon)
	if err != nil {
		return nil, err
	}
	w := cfg.idleWindow.Seconds()
	run.APIPerS, run.MsgsInS, run.Conns = float64(api1-api0)/w, float64(in1-in0)/w, conns-1 // less the bench's own client
	progress("nats idle: %.2f JetStream API requests/s, %.2f messages in/s, %d gateway connection(s)", run.APIPerS, run.MsgsInS, run.Conns)
	return run, e.deleteNamespace(ctx, ns, 0)
}

// natsCounters reads the JetStream API request total (/jsz), the client
// messages in and the connections (/varz) from a monitoring endpoint.
func natsCounters(ctx context.Context, c *http.Client, mon string) (api, in int64, conns int, err error) {
	var jsz struct {
		API struct {
			Total int64 `json:"total"`
		} `json:"api"`
	}
	var varz struct {
		InMsgs      int64 `json:"in_msgs"`
		Connections int   `json:"connections"`
	}
	for path, v := range map[string]any{"/jsz": &jsz, "/varz": &varz} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, mon+path, nil)
		if err != nil {
			return 0, 0, 0, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, 0, 0, fmt.Errorf("nats monitoring %s: %w", path, err)
		}
		err = json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(v)
		resp.Body.Close()
		if err != nil {
			return 0, 0, 0, fmt.Errorf("nats monitoring %s: %w", path, err)
		}
	}
	return jsz.API.Total, varz.InMsgs, varz.Connections, nil
}

// printNATS writes the part's figures.
func printNATS(w io.Writer, n *NATSResult) {
	fmt.Fprintf(w, "\nNATS JetStream: publish → spec.replicas=1, push and polling, and idle cost\n")
	wrap(w, "   method: ", n.Method)
	for _, s := range n.Series {
		printSeries(w, s)
	}
	if i := n.Idle; i != nil {
		fmt.Fprintf(w, "   idle: %d ScaledObjects over %d streams, Ready with HPAs in %.1f s (%s); over %.0f s: %.2f JetStream API requests/s, %.2f messages in/s, %d gateway connection(s)\n",
			i.Objects, i.Streams, i.ReadyS, i.PushInfo, i.WindowS, i.APIPerS, i.MsgsInS, i.Conns)
	}
}

// printSeries writes one series of activations.
func printSeries(w io.Writer, s *NATSSeries) {
	fmt.Fprintf(w, "   %s (%d activations, %s; Ready with HPAs in %.1f s; %s): p50 %s, p90 %s, p99 %s, max %s; publish round trip p50 %s\n",
		s.Name, s.Activations, s.Schedule, s.ReadyS, s.PushHealth, fmtMs(s.ToReplicas.P50Ms), fmtMs(s.ToReplicas.P90Ms),
		fmtMs(s.ToReplicas.P99Ms), fmtMs(s.ToReplicas.MaxMs), fmtMs(s.PublishRTT.P50Ms))
}

// checkNATS adds the part's checks: p99 under 50 ms with push, idle cost
// under 1 request/s per 1,000 triggers.
func (r *Report) checkNATS() {
	n := r.NATS
	if n == nil {
		return
	}
	for _, s := range n.Series {
		if s.Push {
			r.Checks = append(r.Checks, Check{What: "nats-jetstream publish → spec.replicas=1, p99, " + s.Name,
				Target: "≤ 50 ms", Got: fmtMs(s.ToReplicas.P99Ms), Pass: s.ToReplicas.P99Ms <= 50})
		}
	}
	if i := n.Idle; i != nil && i.Objects > 0 {
		per1000 := i.APIPerS * 1000 / float64(i.Objects)
		r.Checks = append(r.Checks, Check{What: fmt.Sprintf("nats-jetstream idle cost, %d triggers", i.Objects),
			Target: "< 1 request/s per 1,000 triggers", Got: fmt.Sprintf("%.2f JetStream API requests/s per 1,000", per1000), Pass: per1000 < 1})
	}
}
