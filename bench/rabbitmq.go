package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/sources/rabbitmq"
	"github.com/pushscale/pushscale/sources/rabbitmq/rabbitmqtest"
)

// This file is the rabbitmq part: publish → spec.replicas = 1 through a
// shadow queue (push), through the default exchange (polled, the queue
// has no other binding) and with push disabled, all at pollingInterval
// 1 s in one run, and what idle triggers cost the broker.

const (
	rabbitShadowNamespace  = "bench-rmq-shadow"
	rabbitDefaultNamespace = "bench-rmq-default"
	rabbitPollNamespace    = "bench-rmq-poll"
	rabbitIdleNamespace    = "bench-rmq-idle"
	rabbitExchange         = "bench"
)

// RabbitMQResult is the rabbitmq part.
type RabbitMQResult struct {
	Method string        `json:"method"`
	Series []*NATSSeries `json:"series"`
	Idle   *RabbitMQIdle `json:"idle,omitempty"`
}

// RabbitMQIdle is what idle triggers cost the broker over a window.
type RabbitMQIdle struct {
	Objects           int     `json:"objects"`
	ReadyS            float64 `json:"ready_with_hpas_s"`
	WindowS           float64 `json:"window_s"`
	QueueDeclaresPerS float64 `json:"queue_declares_per_s"`
	ChannelsPerS      float64 `json:"channels_opened_per_s"`
	Conns             int     `json:"connections"`
	Consumers         int     `json:"consumers"`
	Queues            int     `json:"queues"`
	PushInfo          string  `json:"push_health"`
	// GatewayReadsPerS are the gateway's reads of rabbitmq resources per
	// second by reason (pushscale_broker_reads_total).
	GatewayReadsPerS map[string]float64 `json:"gateway_reads_per_s"`
}

func rabbitMethod(cfg config) string {
	return fmt.Sprintf("One private rabbitmq-server 3.10 (rabbitmqtest: loopback, management plugin) for the part; one durable "+
		"queue per target; one Deployment at 0 per target, its ScaledObject of KEDA's rabbitmq shape (amqp host with "+
		"credentials, mode QueueLength, value 1, cooldownPeriod 86400, maxReplicaCount 1, pollingInterval 1 s) plus "+
		"managementHost. t0 just before a confirmed persistent publish, t1 when a Deployment informer delivers "+
		"spec.replicas == 1. (a) shadow queue: each queue bound to direct exchange %q with its name as routing key, "+
		"published through it, one at a time %s apart; (b) default exchange: queues with no other binding, published "+
		"to by name, each at a random moment within its series' spread; (c) the queues of (a) on a gateway restarted with "+
		"DisablePush [rabbitmq] watching %s only, published as (b). Idle: %d ScaledObjects on queues bound as (a) on the "+
		"first gateway; over the window (started once the management API's lagging counters settle) the broker's "+
		"queue.declare and channel.open counts (/api/overview churn_rates) per second, its connections, consumers and "+
		"queues, and the gateway's reads (pushscale_broker_reads_total).",
		rabbitExchange, activationPause, rabbitPollNamespace, cfg.idleObjects)
}

// rabbitBench is the part's broker.
type rabbitBench struct {
	srv *rabbitmqtest.Server
	dir string
}

func (b *rabbitBench) close() {
	b.srv.Close()
	os.RemoveAll(b.dir)
}

// queues declares one durable queue per name, bound to the bench exchange
// when bound.
func (b *rabbitBench) queues(names []string, bound bool) error {
	exchange := ""
	if bound {
		exchange = rabbitExchange
	}
	for _, n := range names {
		if err := b.srv.Declare(n, exchange, n); err != nil {
			return err
		}
	}
	return nil
}

func (b *rabbitBench) spec(queue string, polling time.Duration) soSpec {
	return soSpec{cooldown: 86400, maxReplicas: 1, pollingInterval: int32(polling / time.Second),
		rabbitmq: map[string]string{"host": "amqp://" + rabbitmqtest.User + ":" + b.srv.Password() + "@" + b.srv.Addr() + "/",
			"managementHost": "http://" + b.srv.MgmtAddr(), "queueName": queue, "mode": "QueueLength", "value": "1"}}
}

// measureRabbitMQ runs the part: series (a), the idle window, (b), (c).
func measureRabbitMQ(ctx context.Context, e *env, cfg config) (*RabbitMQResult, error) {
	res := &RabbitMQResult{Method: rabbitMethod(cfg)}
	dir, err := os.MkdirTemp("", "pushscale-bench-rabbitmq-")
	if err != nil {
		return nil, err
	}
	srv, err := rabbitmqtest.New(dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	b := &rabbitBench{srv: srv, dir: dir}
	defer b.close()
	for _, series := range []struct {
		name, ns string
		bound    bool
		poll     bool
		n        int
	}{
		{"(a) shadow queue", rabbitShadowNamespace, true, false, cfg.activations},
		{"(b) default exchange, polled", rabbitDefaultNamespace, false, false, cfg.pollTargets},
		{"(c) push disabled", rabbitPollNamespace, true, true, cfg.pollTargets},
	} {
		s, err := e.rabbitSeries(ctx, b, series.name, series.ns, series.bound, series.poll, series.n)
		if s != nil {
			res.Series = append(res.Series, s)
		}
		if err != nil {
			return res, err
		}
		if series.bound && !series.poll {
			if res.Idle, err = e.rabbitIdle(ctx, b, cfg); err != nil {
				return res, err
			}
		}
	}
	return res, nil
}

func (e *env) rabbitSeries(ctx context.Context, b *rabbitBench, name, ns string, bound, poll bool, n int) (*NATSSeries, error) {
	var gw func(*gateway.Options)
	want := metav1.ConditionTrue
	if poll {
		gw = func(o *gateway.Options) { o.WatchNamespace = ns; o.DisablePush = []string{rabbitmq.Type} }
	}
	if poll || !bound {
		want = metav1.ConditionFalse
	}
	if err := e.useGateway(ctx, gw); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	objs := names(ns[len("bench-"):], n)
	if err := b.queues(objs, bound); err != nil {
		return nil, err
	}
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	polling := time.Second
	s := &NATSSeries{Name: name, Push: bound && !poll, Activations: n, PollingIntervalS: polling.Seconds()}
	progress("rabbitmq %s: %d ScaledObjects", name, n)
	if s.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(i int) soSpec { return b.spec(objs[i], polling) }, 2*time.Minute); err != nil {
		return nil, err
	}
	if s.PushHealth, err = e.waitPushHealth(ctx, ns, objs, want, time.Minute); err != nil {
		return nil, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, n, 2*time.Minute); err != nil {
		return nil, err
	}
	publish := func(ctx context.Context, target string) error {
		if bound {
			return b.srv.Publish(rabbitExchange, target, 1)
		}
		return b.srv.Publish("", target, 1)
	}
	if s.Schedule, s.ToReplicas, s.PublishRTT, err = activateAll(ctx, objs, seen, publish, s.Push, polling); err != nil {
		return nil, err
	}
	progress("rabbitmq %s: p50 %s, p99 %s", name, fmtMs(s.ToReplicas.P50Ms), fmtMs(s.ToReplicas.P99Ms))
	stopWatch()
	// The active targets of a series are read every second until their
	// ScaledObjects are gone: wait for that, so that the idle window that
	// may follow counts idle triggers only.
	return s, e.deleteNamespace(ctx, ns, 2*time.Minute)
}

// sumValues adds the values of m.
func sumValues(m map[string]float64) float64 {
	var sum float64
	for _, v := range m {
		sum += v
	}
	return sum
}

// rabbitIdle measures what cfg.idleObjects idle shadow-queue triggers cost
// the broker over cfg.idleWindow.
func (e *env) rabbitIdle(ctx context.Context, b *rabbitBench, cfg config) (*RabbitMQIdle, error) {
	ns := rabbitIdleNamespace
	if err := e.useGateway(ctx, nil); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	objs := names("rmq-idle", cfg.idleObjects)
	if err := b.queues(objs, true); err != nil {
		return nil, err
	}
	run := &RabbitMQIdle{Objects: len(objs), WindowS: cfg.idleWindow.Seconds()}
	progress("rabbitmq idle: %d ScaledObjects", len(objs))
	var err error
	if run.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(i int) soSpec { return b.spec(objs[i], 30*time.Second) }, scaleReadyTimeout); err != nil {
		return nil, err
	}
	if run.PushInfo, err = e.waitPushHealth(ctx, ns, objs, metav1.ConditionTrue, 2*time.Minute); err != nil {
		return nil, err
	}
	if err := sleep(ctx, idleSettle); err != nil {
		return nil, err
	}
	reads := map[string]string{"source": rabbitmq.Type}
	reads0, err := scrapeCounter(ctx, e.http, e.metrics, "pushscale_broker_reads_total", reads, "reason")
	if err != nil {
		return nil, err
	}
	// The management API's counters lag behind the broker (statistics are
	// emitted every second here): start the window once they stop moving
	// with the setup's declares, or after 30 s.
	o0, err := rabbitOverview(b.srv)
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if err := sleep(ctx, 2*time.Second); err != nil {
			return nil, err
		}
		o, err := rabbitOverview(b.srv)
		if err != nil {
			return nil, err
		}
		if o.Churn == o0.Churn {
			break
		}
		o0 = o
	}
	if err := sleep(ctx, cfg.idleWindow); err != nil {
		return nil, err
	}
	o1, err := rabbitOverview(b.srv)
	if err != nil {
		return nil, err
	}
	reads1, err := scrapeCounter(ctx, e.http, e.metrics, "pushscale_broker_reads_total", reads, "reason")
	if err != nil {
		return nil, err
	}
	w := cfg.idleWindow.Seconds()
	run.GatewayReadsPerS = map[string]float64{}
	for reason, n := range counterDelta(reads0, reads1) {
		run.GatewayReadsPerS[reason] = n / w
	}
	run.QueueDeclaresPerS = float64(o1.Churn.QueueDeclared-o0.Churn.QueueDeclared) / w
	// The bench's own two management requests open no channel; its one
	// AMQP connection (for publishing) is not the gateway's.
	run.ChannelsPerS = float64(o1.Churn.ChannelCreated-o0.Churn.ChannelCreated) / w
	run.Conns, run.Consumers, run.Queues = o1.Totals.Connections-1, o1.Totals.Consumers, o1.Totals.Queues
	progress("rabbitmq idle: %.2f queue.declare/s, %.2f channel.open/s, %d gateway connection(s), %d consumers, %d queues; gateway reads/s %v",
		run.QueueDeclaresPerS, run.ChannelsPerS, run.Conns, run.Consumers, run.Queues, run.GatewayReadsPerS)
	return run, e.deleteNamespace(ctx, ns, 0)
}

type rabbitOverviewAnswer struct {
	Churn struct {
		QueueDeclared  int64 `json:"queue_declared"`
		ChannelCreated int64 `json:"channel_created"`
	} `json:"churn_rates"`
	Totals struct {
		Connections int `json:"connections"`
		Consumers   int `json:"consumers"`
		Queues      int `json:"queues"`
	} `json:"object_totals"`
}

func rabbitOverview(srv *rabbitmqtest.Server) (rabbitOverviewAnswer, error) {
	var o rabbitOverviewAnswer
	body, err := srv.API("GET", "/api/overview", nil)
	if err != nil {
		return o, err
	}
	return o, json.Unmarshal(body, &o)
}

// printRabbitMQ writes the part's figures.
func printRabbitMQ(w io.Writer, r *RabbitMQResult) {
	fmt.Fprintf(w, "\nRabbitMQ: publish → spec.replicas=1 through a shadow queue, the default exchange and with push disabled, and idle cost\n")
	wrap(w, "   method: ", r.Method)
	for _, s := range r.Series {
		printSeries(w, s)
	}
	if i := r.Idle; i != nil {
		fmt.Fprintf(w, "   idle: %d ScaledObjects, Ready with HPAs in %.1f s (%s); over %.0f s: %.2f queue.declare/s, %.2f channel.open/s, %d gateway connection(s), %d consumers, %d queues (application's and shadow); gateway reads %.2f/s %v\n",
			i.Objects, i.ReadyS, i.PushInfo, i.WindowS, i.QueueDeclaresPerS, i.ChannelsPerS, i.Conns, i.Consumers, i.Queues, sumValues(i.GatewayReadsPerS), i.GatewayReadsPerS)
	}
}

// checkRabbitMQ adds the part's checks: shadow-queue p99 under 250 ms,
// no read while idle.
func (r *Report) checkRabbitMQ() {
	n := r.RabbitMQ
	if n == nil {
		return
	}
	for _, s := range n.Series {
		if s.Push {
			r.Checks = append(r.Checks, Check{What: "rabbitmq publish → spec.replicas=1, p99, " + s.Name,
				Target: "≤ 250 ms", Got: fmtMs(s.ToReplicas.P99Ms), Pass: s.ToReplicas.P99Ms <= 250})
		}
	}
	if i := n.Idle; i != nil && i.Objects > 0 {
		reads := sumValues(i.GatewayReadsPerS)
		r.Checks = append(r.Checks, Check{What: fmt.Sprintf("rabbitmq idle reads, %d triggers", i.Objects),
			Target: "0 reads/s", Got: fmt.Sprintf("%.2f gateway reads/s, %.2f queue.declare/s at the broker", reads, i.QueueDeclaresPerS),
			Pass: reads == 0 && i.QueueDeclaresPerS == 0})
	}
}
