package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	pb "github.com/pushscale/pushscale/api/externalscaler"
	"github.com/pushscale/pushscale/companion/companiontest"
	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/gateway/gatewaytest"
)

const (
	partCompanion      = "companion"
	companionNamespace = "bench-companion"
	// companionStreams are the webhook streams (and external-push
	// triggers) the activations go round.
	companionStreams = 10
)

// CompanionResult is the companion part: webhook POST → StreamIsActive
// true at a test client playing KEDA's operator.
type CompanionResult struct {
	Method      string  `json:"method"`
	Activations int     `json:"activations"`
	ToActive    Summary `json:"post_to_stream_true"`
	PostRTT     Summary `json:"post_round_trip"`
}

// measureCompanion runs a second gateway in this process with
// --mode=companion and its external scaler on loopback mTLS, opens one
// StreamIsActive per trigger as KEDA's operator does, and times each POST
// of 1 until the stream sends true (then a POST of 0 and its false, not
// timed).
func measureCompanion(ctx context.Context, e *env, cfg config) (*CompanionResult, error) {
	if err := e.ensureNamespace(ctx, companionNamespace); err != nil {
		return nil, err
	}
	cg, err := startCompanion(ctx, e)
	if err != nil {
		return nil, err
	}
	defer cg.stop()
	client, conn, err := companiontest.Dial(cg.opts.ExternalScalerAddr, cg.ca, cg.keda)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streams := make([]chan bool, companionStreams)
	for i := range streams {
		if streams[i], err = openCompanionStream(sctx, client, i); err != nil {
			return nil, err
		}
		if err := awaitActivity(ctx, streams[i], false); err != nil {
			return nil, fmt.Errorf("stream %d: first message: %w", i, err)
		}
	}
	post := func(i, v int) (time.Duration, error) {
		url := fmt.Sprintf("http://%s/v1/namespaces/%s/streams/c%d", cg.opts.WebhookAddr, companionNamespace, i)
		start := time.Now()
		code, body, err := e.post(ctx, url, fmt.Sprintf(`{"value": %d}`, v), "")
		if err == nil && code != http.StatusAccepted {
			err = fmt.Errorf("POST %s: %d %s", url, code, strings.TrimSpace(body))
		}
		return time.Since(start), err
	}
	res := &CompanionResult{Activations: cfg.activations, Method: fmt.Sprintf(
		"a second gateway.Run in this process with --mode=companion, its external scaler on loopback TLS with a client certificate; "+
			"a gRPC client in this process plays KEDA's operator: %d external-push triggers (pushscaleType webhook, pushscalePollingInterval 3600), "+
			"one StreamIsActive open on each; each activation POSTs {\"value\": 1} to a stream at 0 and times it until its stream sends true "+
			"(the stream is then set back to 0 and its false awaited, untimed)", companionStreams)}
	var toActive, rtts []time.Duration
	for n := range cfg.activations {
		i := n % companionStreams
		start := time.Now()
		rtt, err := post(i, 1)
		if err != nil {
			return nil, err
		}
		if err := awaitActivity(ctx, streams[i], true); err != nil {
			return nil, fmt.Errorf("activation %d: %w", n, err)
		}
		toActive, rtts = append(toActive, time.Since(start)), append(rtts, rtt)
		if _, err := post(i, 0); err != nil {
			return nil, err
		}
		if err := awaitActivity(ctx, streams[i], false); err != nil {
			return nil, fmt.Errorf("activation %d, back to 0: %w", n, err)
		}
	}
	res.ToActive, res.PostRTT = summarize(toActive), summarize(rtts)
	return res, nil
}

// openCompanionStream opens StreamIsActive for trigger i; the channel
// receives its messages until ctx ends.
func openCompanionStream(ctx context.Context, client pb.ExternalScalerClient, i int) (chan bool, error) {
	stream, err := client.StreamIsActive(ctx, &pb.ScaledObjectRef{Namespace: companionNamespace, Name: fmt.Sprintf("c%d", i), ScalerMetadata: map[string]string{
		"scalerAddress": "pushscale:9443", "pushscaleType": "webhook", "pushscalePollingInterval": "3600",
		"stream": fmt.Sprintf("c%d", i), "targetValue": "1", "allowUnauthenticated": "true",
	}})
	if err != nil {
		return nil, fmt.Errorf("StreamIsActive: %w", err)
	}
	ch := make(chan bool, 4)
	go func() {
		defer close(ch)
		for {
			m, err := stream.Recv()
			if err != nil {
				return
			}
			ch <- m.Result
		}
	}()
	return ch, nil
}

func awaitActivity(ctx context.Context, ch chan bool, want bool) error {
	select {
	case got, ok := <-ch:
		if !ok {
			return fmt.Errorf("StreamIsActive ended")
		}
		if got != want {
			return fmt.Errorf("StreamIsActive sent %v, want %v", got, want)
		}
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("StreamIsActive sent nothing within 10 s (want %v)", want)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// companionGateway is the part's gateway.
type companionGateway struct {
	opts gateway.Options
	ca   *companiontest.CA
	keda *companiontest.Leaf
	stop func()
}

func startCompanion(ctx context.Context, e *env) (*companionGateway, error) {
	ca, err := companiontest.NewCA()
	if err != nil {
		return nil, err
	}
	keda, err := ca.Issue("keda-operator")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pushscale-bench-companion-")
	if err != nil {
		return nil, err
	}
	opts, err := gatewaytest.Companion(e.baseOpts, dir, ca)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	opts.ClusterObjectNamespace = companionNamespace
	gctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() { done <- gateway.Run(gctx, opts) }()
	cg := &companionGateway{opts: opts, ca: ca, keda: keda, stop: func() {
		cancel()
		if err := <-done; err != nil {
			progress("companion gateway: %v", err)
		}
		os.RemoveAll(dir)
	}}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		code, _, err := e.get(ctx, "http://"+opts.MetricsAddr+"/readyz", "")
		if err == nil && code == http.StatusOK {
			return cg, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			cg.stop()
			return nil, fmt.Errorf("companion gateway not ready: %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func printCompanion(w io.Writer, c *CompanionResult) {
	fmt.Fprintf(w, "\nCompanion mode: webhook POST → StreamIsActive true (%d activations)\n", c.Activations)
	wrap(w, "   method: ", c.Method)
	fmt.Fprintf(w, "   POST → true: p50 %s, p90 %s, p99 %s, max %s; POST round trip p50 %s\n",
		fmtMs(c.ToActive.P50Ms), fmtMs(c.ToActive.P90Ms), fmtMs(c.ToActive.P99Ms), fmtMs(c.ToActive.MaxMs), fmtMs(c.PostRTT.P50Ms))
}

// checkCompanion: p99 under 25 ms.
func (r *Report) checkCompanion() {
	if c := r.Companion; c != nil {
		r.Checks = append(r.Checks, Check{What: "companion mode POST → StreamIsActive true, p99",
			Target: "≤ 25 ms", Got: fmtMs(c.ToActive.P99Ms), Pass: c.ToActive.P99Ms <= 25})
	}
}
