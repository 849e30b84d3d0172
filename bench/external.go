package main

import (
	"context"
	"fmt"
	"io"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/pushscale/pushscale/sources/external"
	"github.com/pushscale/pushscale/sources/external/externaltest"
)

// This file is the external part: an external scaler's StreamIsActive
// true → spec.replicas = 1 on external-push triggers, against the same
// scaler's activity read by polling on external triggers, both at
// pollingInterval 1 s on the same gateway, in one run.

const (
	partExternal          = "external"
	externalPushNamespace = "bench-ext-push"
	externalPollNamespace = "bench-ext-poll"
)

// ExternalResult is the external part.
type ExternalResult struct {
	Method string        `json:"method"`
	Series []*NATSSeries `json:"series"`
}

func externalMethod() string {
	return fmt.Sprintf("One external scaler in this process (externaltest: KEDA's externalscaler.proto over plain gRPC on a "+
		"loopback port; metric \"jobs\", target 1; it answers each ScaledObject by name). One Deployment at 0 per target, its "+
		"ScaledObject with one trigger on that scaler (cooldownPeriod 86400, maxReplicaCount 1, pollingInterval 1 s); all "+
		"triggers share the gateway's one gRPC connection. t0 just before the scaler changes the target's answer, t1 when a "+
		"Deployment informer delivers spec.replicas == 1. (a) external-push: the scaler sends true on the target's "+
		"StreamIsActive, one target at a time %s apart; (b) external: the scaler's IsActive answers true from t0, read "+
		"every pollingInterval, each target at a random moment within its series' spread. The send round trip is the "+
		"scaler's own bookkeeping (no network).", activationPause)
}

// measureExternal runs the part: (a), then (b), on the first gateway.
func measureExternal(ctx context.Context, e *env, cfg config) (*ExternalResult, error) {
	srv, err := externaltest.New("127.0.0.1:0", externaltest.Options{MetricName: "jobs", Target: 1})
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	res := &ExternalResult{Method: externalMethod()}
	for _, series := range []struct {
		name, ns, typ string
		n             int
	}{
		{"(a) external-push, StreamIsActive", externalPushNamespace, external.TypePush, cfg.activations},
		{"(b) external, polled", externalPollNamespace, external.Type, cfg.pollTargets},
	} {
		s, err := e.externalSeries(ctx, srv, series.name, series.ns, series.typ, series.n)
		if s != nil {
			res.Series = append(res.Series, s)
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// externalSeries activates n targets of trigger type typ, each once.
func (e *env) externalSeries(ctx context.Context, srv *externaltest.Server, name, ns, typ string, n int) (*NATSSeries, error) {
	push := typ == external.TypePush
	if err := e.useGateway(ctx, nil); err != nil {
		return nil, err
	}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	objs := names(ns[len("bench-"):], n)
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	const polling = time.Second
	s := &NATSSeries{Name: name, Push: push, Activations: n, PollingIntervalS: polling.Seconds()}
	progress("external %s: %d ScaledObjects", name, n)
	spec := soSpec{cooldown: 86400, maxReplicas: 1, pollingInterval: int32(polling / time.Second),
		externalType: typ, external: map[string]string{"scalerAddress": srv.Addr()}}
	if s.ReadyS, err = e.createRedisObjects(ctx, ns, objs, func(int) soSpec { return spec }, 2*time.Minute); err != nil {
		return nil, err
	}
	health := metav1.ConditionFalse // NotSupported: polled
	if push {
		health = metav1.ConditionTrue
	}
	if s.PushHealth, err = e.waitPushHealth(ctx, ns, objs, health, time.Minute); err != nil {
		return nil, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, n, 2*time.Minute); err != nil {
		return nil, err
	}
	calls := func() string {
		return fmt.Sprintf("GetMetricSpec %d, GetMetrics %d, IsActive %d, StreamIsActive %d",
			srv.Calls("GetMetricSpec"), srv.Calls("GetMetrics"), srv.Calls("IsActive"), srv.Calls("StreamIsActive"))
	}
	progress("external %s: scaler calls so far: %s", name, calls())
	activate := func(_ context.Context, target string) error {
		if push {
			srv.PushTo(target, 1, true)
		} else {
			srv.SetFor(target, 1, true)
		}
		return nil
	}
	if s.Schedule, s.ToReplicas, s.PublishRTT, err = activateAll(ctx, objs, seen, activate, push, polling); err != nil {
		return nil, err
	}
	progress("external %s: p50 %s, p99 %s; scaler calls so far: %s", name, fmtMs(s.ToReplicas.P50Ms), fmtMs(s.ToReplicas.P99Ms), calls())
	stopWatch()
	// Active targets are read every second until their ScaledObjects are
	// gone: wait for that, so that the next series runs on a quiet gateway.
	return s, e.deleteNamespace(ctx, ns, 2*time.Minute)
}

func printExternal(w io.Writer, r *ExternalResult) {
	fmt.Fprintf(w, "\nExternal scaler: StreamIsActive true → spec.replicas=1 (external-push) against IsActive polled at 1 s (external)\n")
	wrap(w, "   method: ", r.Method)
	for _, s := range r.Series {
		printSeries(w, s)
	}
}

// checkExternal adds the part's check: the push p99 below the polled p50
// of the same run (no figure is set for external scalers).
func (r *Report) checkExternal() {
	x := r.External
	if x == nil {
		return
	}
	var push, poll *NATSSeries
	for _, s := range x.Series {
		if s.Push {
			push = s
		} else {
			poll = s
		}
	}
	if push == nil || poll == nil {
		return
	}
	r.Checks = append(r.Checks, Check{What: "external-push StreamIsActive → spec.replicas=1, p99",
		Target: "< external polled at 1 s, p50 (" + fmtMs(poll.ToReplicas.P50Ms) + ")", Got: fmtMs(push.ToReplicas.P99Ms),
		Pass: push.ToReplicas.N > 0 && push.ToReplicas.P99Ms < poll.ToReplicas.P50Ms})
}
