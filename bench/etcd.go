package main

import (
	"context"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/sources/etcd"
	"github.com/pushscale/pushscale/sources/etcd/etcdtest"
)

// This file is the etcd part: put → spec.replicas = 1 by watch, and the
// same with push disabled (the key polled at pollingInterval 1 s).

const (
	etcdPushNamespace = "bench-etcd-push"
	etcdPollNamespace = "bench-etcd-poll"
)

// EtcdResult is the etcd part.
type EtcdResult struct {
	Method string        `json:"method"`
	Series []*NATSSeries `json:"series"`
}

func etcdMethod() string {
	return "One private etcd member (etcdtest: the control plane's etcd binary, loopback, --unsafe-no-fsync, no authentication) " +
		"for the part, apart from the control plane's; one key /jobs/<name> per target, 0 at first; one Deployment at 0 per " +
		"target, its ScaledObject of KEDA's etcd shape (endpoints, watchKey, value 1, cooldownPeriod 86400, maxReplicaCount 1, " +
		"pollingInterval 1 s). t0 just before a put of 1 on an open client, t1 when a Deployment informer delivers " +
		"spec.replicas == 1. (a) watch: one at a time " + activationPause.String() + " apart; (b) the same ScaledObjects in " +
		"another namespace on a gateway restarted with DisablePush [etcd] watching it only, each put at a random moment " +
		"within the series' spread."
}

// measureEtcd runs the part: series (a) then (b).
func measureEtcd(ctx context.Context, e *env, cfg config) (*EtcdResult, error) {
	res := &EtcdResult{Method: etcdMethod()}
	srv, err := etcdtest.New(etcdtest.Options{})
	if err != nil {
		return nil, err
	}
	defer srv.Close()
	cli, err := srv.Client()
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	for _, series := range []struct {
		name, ns string
		poll     bool
		n        int
	}{
		{"(a) watch", etcdPushNamespace, false, cfg.activations},
		{"(b) push disabled, polled at 1 s", etcdPollNamespace, true, cfg.pollTargets},
	} {
		var gw func(*gateway.Options)
		want := metav1.ConditionTrue
		if series.poll {
			gw = func(o *gateway.Options) { o.WatchNamespace = series.ns; o.DisablePush = []string{etcd.Type} }
			want = metav1.ConditionFalse
		}
		if err := e.useGateway(ctx, gw); err != nil {
			return res, err
		}
		if err := e.ensureNamespace(ctx, series.ns); err != nil {
			return res, err
		}
		objs := names(series.ns[len("bench-"):], series.n)
		for _, o := range objs {
			if _, err := cli.Put(ctx, "/jobs/"+o, "0"); err != nil {
				return res, err
			}
		}
		s, err := e.timedSeries(ctx, "etcd", series.name, series.ns, objs, !series.poll, want, func(i int) soSpec {
			return soSpec{cooldown: 86400, maxReplicas: 1, pollingInterval: 1,
				etcd: map[string]string{"endpoints": srv.Addr(), "watchKey": "/jobs/" + objs[i], "value": "1"}}
		}, func(ctx context.Context, target string) error {
			_, err := cli.Put(ctx, "/jobs/"+target, "1")
			return err
		})
		if s != nil {
			res.Series = append(res.Series, s)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// timedSeries creates objs with spec in ns, waits for their PushHealthy
// to be want, activates each with send and measures send → spec.replicas
// = 1 (push: one at a time; polled: spread), then deletes ns.
func (e *env) timedSeries(ctx context.Context, part, name, ns string, objs []string, push bool, want metav1.ConditionStatus,
	spec func(i int) soSpec, send func(context.Context, string) error) (*NATSSeries, error) {
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	polling := time.Second
	s := &NATSSeries{Name: name, Push: push, Activations: len(objs), PollingIntervalS: polling.Seconds()}
	progress("%s %s: %d ScaledObjects", part, name, len(objs))
	if s.ReadyS, err = e.createRedisObjects(ctx, ns, objs, spec, 2*time.Minute); err != nil {
		return nil, err
	}
	if s.PushHealth, err = e.waitPushHealth(ctx, ns, objs, want, time.Minute); err != nil {
		return nil, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, len(objs), 2*time.Minute); err != nil {
		return nil, err
	}
	if s.Schedule, s.ToReplicas, s.PublishRTT, err = activateAll(ctx, objs, seen, send, push, polling); err != nil {
		return nil, err
	}
	progress("%s %s: p50 %s, p99 %s", part, name, fmtMs(s.ToReplicas.P50Ms), fmtMs(s.ToReplicas.P99Ms))
	stopWatch()
	return s, e.deleteNamespace(ctx, ns, 2*time.Minute)
}

func printEtcd(w io.Writer, r *EtcdResult) {
	fmt.Fprintf(w, "\netcd: put → spec.replicas=1 by watch and with push disabled (polled at 1 s)\n")
	wrap(w, "   method: ", r.Method)
	for _, s := range r.Series {
		printSeries(w, s)
	}
}

// checkEtcd adds the part's check: watch p99 under 50 ms (a hint and one
// Get).
func (r *Report) checkEtcd() {
	if r.Etcd == nil {
		return
	}
	for _, s := range r.Etcd.Series {
		if s.Push {
			r.Checks = append(r.Checks, Check{What: "etcd put → spec.replicas=1, p99, " + s.Name,
				Target: "≤ 50 ms", Got: fmtMs(s.ToReplicas.P99Ms), Pass: s.ToReplicas.P99Ms <= 50})
		}
	}
}
