package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/gateway"
)

// RedisLatencyResult is measurement 4: LPUSH → spec.replicas = 1, by push
// and by polling.
type RedisLatencyResult struct {
	Method string         `json:"method"`
	Series []*RedisSeries `json:"series"`
}

// RedisSeries is one series of activations.
type RedisSeries struct {
	Name string `json:"name"`
	Push bool   `json:"push"`
	// Tracking: the server's keyspace notifications are off, and the
	// gateway pushes through client tracking.
	Tracking         bool    `json:"client_tracking,omitempty"`
	PollingIntervalS float64 `json:"polling_interval_s"`
	Activations      int     `json:"activations"`
	// Schedule says when the LPUSHes were sent.
	Schedule string `json:"schedule"`
	Gateway  string `json:"gateway"`
	// ReadyS is the time from the first ScaledObject create until all of
	// the series were Ready with their HPAs.
	ReadyS     float64 `json:"ready_with_hpas_s"`
	PushHealth string  `json:"push_health"`
	ToReplicas Summary `json:"lpush_to_replicas_seen"`
	LPushRTT   Summary `json:"lpush_round_trip"`
	// SamplesMs are the LPUSH → spec.replicas=1 times, by target (in the
	// order of their names).
	SamplesMs []float64 `json:"lpush_to_replicas_samples_ms"`
	// Reads are the gateway's pushscale_broker_reads_total{source="redis"}
	// made during the series, by reason.
	Reads map[string]float64 `json:"gateway_broker_reads"`
	// Gateway's event-to-scale histogram (source="redis") over the series;
	// push only (after a poll it starts at the read, not the LPUSH).
	Histogram *GatewayHistogram `json:"gateway_event_to_scale,omitempty"`
	CPU       cpuUse            `json:"cpu"`
}

const (
	redisPushNamespace = "bench-redis-push"
	redisPollNamespace = "bench-redis-poll"
)

// seriesPlan is one series of activations to run.
type seriesPlan struct {
	name    string
	prefix  string        // ScaledObjects, Deployments and lists are <prefix>-<i>
	n       int           // activations, one per target
	polling time.Duration // pollingInterval; 0 for KEDA's default (30 s)
	// spread 0: one at a time, activationPause apart. Otherwise every
	// target gets its LPUSH at a random moment within spread, in parallel.
	spread time.Duration
	// tracking: the series' server has keyspace notifications off, so
	// push goes through client tracking.
	tracking bool
}

// timeout bounds one activation of the series.
func (p seriesPlan) timeout() time.Duration {
	return p.polling*11/10 + activationTimeout // ±10 % jitter on the interval
}

// staggerSpread is the window over which a polled series' LPUSHes are
// spread: a whole polling interval, so that each lands at a random phase
// of its target's polling, and at least 200 ms per target.
func staggerSpread(n int, polling time.Duration) time.Duration {
	return max(polling, time.Duration(n)*200*time.Millisecond)
}

// redisLatencyMethod is the method of measurement 4.
func redisLatencyMethod() string {
	return fmt.Sprintf(
		"Each series has its own redis-server (loopback, notify-keyspace-events KA, except (a2)'s: none, so that "+
			"the gateway pushes through client tracking; a password the ScaledObjects get "+
			"through a TriggerAuthentication secretTargetRef, CONFIG RESETSTAT before the first LPUSH, no client but the "+
			"gateway and the bench's LPUSH connection) and one Deployment at 0 per activation, each with a ScaledObject of "+
			"KEDA's shape: type redis, address, listName (its own list), listLength 1, minReplicaCount 0, "+
			"maxReplicaCount 1, cooldownPeriod 86400, the series' pollingInterval. All Ready with their HPAs, and "+
			"PushHealthy as stated, before the first LPUSH. t0 just before LPUSH <list> (go-redis, keep-alive "+
			"connection, loopback); t1 when a Deployment informer on the namespace delivers spec.replicas == 1 for "+
			"that Deployment. (a) one at a time, %s apart, as the webhook figure, on the first gateway (all "+
			"namespaces, default options: push), in %s, and (a2) likewise after (a); (b) and (c) in parallel: each target gets one LPUSH at a "+
			"random moment within the series' spread (at least one polling interval), so that each lands at a random "+
			"phase of its polling, on a gateway restarted in this process on the same ports, watching %s only, with "+
			"DisablePush [%q]; (b) and (c) are created together and (c) runs after (b), while (b)'s targets stay "+
			"active. One gateway runs at a time.",
		activationPause, redisPushNamespace, redisPollNamespace, redisType)
}

// measureRedisPush is series (a), push through keyspace notifications,
// and (a2), push through client tracking, on the first gateway.
func measureRedisPush(ctx context.Context, e *env, cfg config) ([]*RedisSeries, error) {
	return e.runSeriesGroup(ctx, false, []seriesPlan{
		{name: "(a) push", prefix: "push", n: cfg.activations},
		{name: "(a2) push, client tracking", prefix: "track", n: cfg.activations, tracking: true},
	})
}

// measureRedisPolling is series (b) and (c): polling at 1 s and at
// cfg.slowPolling, on one polling gateway.
func measureRedisPolling(ctx context.Context, e *env, cfg config) ([]*RedisSeries, error) {
	return e.runSeriesGroup(ctx, true, []seriesPlan{
		{name: "(b) polling at 1 s", prefix: "poll1", n: cfg.pollTargets, polling: time.Second,
			spread: staggerSpread(cfg.pollTargets, time.Second)},
		{name: fmt.Sprintf("(c) polling at %s", fmtSeconds(cfg.slowPolling)), prefix: "pollslow", n: cfg.pollTargets,
			polling: cfg.slowPolling, spread: staggerSpread(cfg.pollTargets, cfg.slowPolling)},
	})
}

// runSeriesGroup runs plans on the push or the polling gateway: one
// redis-server per plan, every plan's objects created and Ready first,
// then the plans one after another. Afterwards the objects are deleted
// (the push namespace with them; the polling one is used again by the idle
// measurement) and the servers stopped.
func (e *env) runSeriesGroup(ctx context.Context, poll bool, plans []seriesPlan) ([]*RedisSeries, error) {
	var gw func(*gateway.Options) // nil: the first gateway
	ns, wantHealth := redisPushNamespace, metav1.ConditionTrue
	if poll {
		ns, gw, wantHealth = redisPollNamespace, pollingOn(redisPollNamespace), metav1.ConditionFalse
	}
	if err := e.useGateway(ctx, gw); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	servers := make([]*redisServer, len(plans))
	defer func() {
		for _, s := range servers {
			if s != nil {
				s.close()
			}
		}
	}()
	var all []string
	for _, p := range plans {
		all = append(all, names(p.prefix, p.n)...)
	}
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, all)
	if err != nil {
		return nil, err
	}
	defer stopWatch()

	out := make([]*RedisSeries, len(plans))
	for i, p := range plans {
		notify := notifyAll
		if p.tracking {
			notify = notifyNone
		}
		if servers[i], err = e.startRedis(ctx, ns, "redis-"+p.prefix, notify); err != nil {
			return nil, err
		}
		objs := names(p.prefix, p.n)
		s := &RedisSeries{Name: p.name, Push: !poll, Tracking: p.tracking, Activations: p.n, Gateway: gatewayMode(poll),
			PollingIntervalS: p.polling.Seconds()}
		if p.polling == 0 {
			s.PollingIntervalS = 30
		}
		progress("redis %s: %d ScaledObjects on %s", p.name, p.n, servers[i].srv.Addr())
		if s.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(j int) soSpec {
			return servers[i].redisSpec(objs[j], p.polling)
		}, 2*time.Minute); err != nil {
			return nil, err
		}
		if s.PushHealth, err = e.waitPushHealth(ctx, ns, objs, wantHealth, 30*time.Second); err != nil {
			return nil, err
		}
		out[i] = s
	}
	_, took, err := e.settleDeployments(ctx, ns, len(all), 2*time.Minute)
	if err != nil {
		return nil, err
	}
	progress("redis: %d ScaledObjects Ready; the deployment controller caught up %s later", len(all), took.Round(100*time.Millisecond))
	for i, p := range plans {
		if err := e.runSeries(ctx, out[i], p, servers[i].srv.Client(), seen); err != nil {
			return out[:i], fmt.Errorf("%s: %w", p.name, err)
		}
		progress("redis %s: p50 %s, p99 %s", p.name, fmtMs(out[i].ToReplicas.P50Ms), fmtMs(out[i].ToReplicas.P99Ms))
	}
	// The activated targets' HPAs would query the metrics API every
	// second for the rest of the run.
	stopWatch()
	if poll {
		return out, e.deleteObjects(ctx, ns, all)
	}
	return out, e.deleteNamespace(ctx, ns, 0)
}

// runSeries activates every target of p once and fills s with the figures.
func (e *env) runSeries(ctx context.Context, s *RedisSeries, p seriesPlan, rdb *redis.Client, seen map[string]chan time.Time) error {
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		return fmt.Errorf("CONFIG RESETSTAT: %w", err)
	}
	redisSource := map[string]string{"source": redisType}
	reads0, err := scrapeCounter(ctx, e.http, e.metrics, "pushscale_broker_reads_total", redisSource, "reason")
	if err != nil {
		return err
	}
	hist0, err := scrapeHistogram(ctx, e.http, e.metrics, "pushscale_event_to_scale_seconds", redisSource)
	if err != nil {
		return err
	}
	objs := names(p.prefix, p.n)
	cpu := startCPU(e)
	var toReplicas, rtt []time.Duration
	if p.spread == 0 {
		s.Schedule = fmt.Sprintf("one at a time, %s apart", activationPause)
		toReplicas, rtt, err = activateInTurn(ctx, rdb, seen, objs, p.timeout())
	} else {
		s.Schedule = fmt.Sprintf("in parallel, each at a random moment within %s", fmtSeconds(p.spread))
		toReplicas, rtt, err = activateStaggered(ctx, rdb, seen, objs, p.spread, p.timeout())
	}
	if err != nil {
		return err
	}
	s.CPU = cpu.stop()
	reads1, err := scrapeCounter(ctx, e.http, e.metrics, "pushscale_broker_reads_total", redisSource, "reason")
	if err != nil {
		return err
	}
	s.Reads = counterDelta(reads0, reads1)
	if s.Push {
		hist1, err := scrapeHistogram(ctx, e.http, e.metrics, "pushscale_event_to_scale_seconds", redisSource)
		if err != nil {
			return err
		}
		g := gatewaySummary(hist1.sub(hist0))
		s.Histogram = &g
	}
	for _, d := range toReplicas {
		s.SamplesMs = append(s.SamplesMs, ms(d))
	}
	s.ToReplicas = summarize(toReplicas)
	s.LPushRTT = summarize(rtt)
	return nil
}

// activateInTurn pushes one item to each list, one at a time, and returns
// the times until spec.replicas = 1 was seen and the LPUSH round trips.
func activateInTurn(ctx context.Context, rdb *redis.Client, seen map[string]chan time.Time, lists []string, timeout time.Duration) (toReplicas, rtt []time.Duration, err error) {
	// Open the connection before the first timed LPUSH.
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, nil, fmt.Errorf("PING: %w", err)
	}
	for i, list := range lists {
		if err := sleep(ctx, activationPause); err != nil {
			return nil, nil, err
		}
		d, r, err := activate(ctx, rdb, seen[list], list, timeout)
		if err != nil {
			return nil, nil, fmt.Errorf("activation %d: %w", i, err)
		}
		toReplicas, rtt = append(toReplicas, d), append(rtt, r)
	}
	return toReplicas, rtt, nil
}

// activateStaggered pushes one item to each list at a random moment within
// spread, all lists in parallel, and returns the times as activateInTurn.
func activateStaggered(ctx context.Context, rdb *redis.Client, seen map[string]chan time.Time, lists []string, spread, timeout time.Duration) (toReplicas, rtt []time.Duration, err error) {
	if err := rdb.Ping(ctx).Err(); err != nil {
		return nil, nil, fmt.Errorf("PING: %w", err)
	}
	toReplicas, rtt = make([]time.Duration, len(lists)), make([]time.Duration, len(lists))
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for i, list := range lists {
		at := start.Add(rand.N(spread))
		g.Go(func() error {
			if err := sleep(gctx, time.Until(at)); err != nil {
				return err
			}
			d, r, err := activate(gctx, rdb, seen[list], list, timeout)
			toReplicas[i], rtt[i] = d, r
			return err
		})
	}
	return toReplicas, rtt, g.Wait()
}

// activate sends LPUSH list and waits for seen to deliver the moment its
// Deployment's spec.replicas became 1.
func activate(ctx context.Context, rdb *redis.Client, seen <-chan time.Time, list string, timeout time.Duration) (toReplicas, rtt time.Duration, err error) {
	lpush := func(ctx context.Context, list string) error {
		if err := rdb.LPush(ctx, list, "job").Err(); err != nil {
			return fmt.Errorf("LPUSH: %w", err)
		}
		return nil
	}
	return activateBy(ctx, lpush, seen, list, timeout)
}

// fmtSeconds prints whole seconds as "30 s", others as Go does.
func fmtSeconds(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d s", d/time.Second)
	}
	return d.String()
}
