package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// ActivationFloor is the floor of every activation figure: what a bare
// scale write by a plain client takes to be seen on the same kind of
// Deployment watch the activation parts use, in the same run. No
// autoscaler can activate faster than its own scale write is seen, so
// figure ÷ floor is how much pushscale adds on this machine today.
type ActivationFloor struct {
	Method      string    `json:"method"`
	Activations int       `json:"activations"`
	ToReplicas  Summary   `json:"write_to_replicas_seen"`
	SamplesMs   []float64 `json:"write_to_replicas_samples_ms"`
}

const floorNamespace = "bench-floor"

// floorPatch is the bare scale write: a JSON patch of the /scale
// subresource's spec.replicas, the same kind of request the gateway's
// activator sends (without its test of the old value).
const floorPatch = `[{"op":"replace","path":"/spec/replicas","value":1}]`

// activationParts are the parts that print a spec.replicas activation
// latency; the floor is measured before the first of them that runs. (The
// scaledjob part has a floor of its own, measureJobFloor.)
var activationParts = []string{partWebhook, partHostile, partRedisLatency, partKafka, partNATS, partRabbitMQ, partExternal, partPostgreSQL, partEtcd}

// measureActivationFloor scales cfg.activations Deployments from 0 to 1,
// one at a time, activationPause apart, by a JSON patch of their /scale
// subresource sent by the bench's own client (client-go, QPS 1000 / burst
// 2000: never throttled here), and times each until the Deployment watch
// (watchReplicasOne, as the parts use) delivers spec.replicas == 1.
func measureActivationFloor(ctx context.Context, e *env, cfg config) (*ActivationFloor, error) {
	n, ns := cfg.activations, floorNamespace
	res := &ActivationFloor{Activations: n, Method: fmt.Sprintf(
		"%d Deployments at 0 replicas in a namespace of their own (no ScaledObjects), created and processed by the "+
			"deployment controller beforehand. One at a time, %s apart (as the activation parts): t0 just before a "+
			"JSON patch of the Deployment's /scale subresource setting spec.replicas 0 → 1, sent by a plain client-go "+
			"client (QPS 1000 / burst 2000: never throttled here), t1 when a Deployment informer on the namespace "+
			"(the same watch as the parts') delivers spec.replicas == 1. Measured once per run, before the first "+
			"activation part; the gateway runs but has nothing to do.", n, activationPause)}
	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	objs := names("floor", n)
	seen, stopWatch, err := e.watchReplicasOne(ctx, ns, objs)
	if err != nil {
		return nil, err
	}
	defer stopWatch()
	if err := e.createDeployments(ctx, ns, objs); err != nil {
		return nil, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, n, 2*time.Minute); err != nil {
		return nil, err
	}
	took := make([]time.Duration, 0, n)
	for i, name := range objs {
		if err := sleep(ctx, activationPause); err != nil {
			return nil, err
		}
		t0 := time.Now()
		_, err := e.kube.AppsV1().Deployments(ns).Patch(ctx, name, types.JSONPatchType, []byte(floorPatch), metav1.PatchOptions{}, "scale")
		if err != nil {
			return nil, fmt.Errorf("floor %d (%s): scale write: %w", i, name, err)
		}
		select {
		case t1 := <-seen[name]:
			took = append(took, t1.Sub(t0))
		case <-time.After(activationTimeout):
			return nil, fmt.Errorf("floor %d (%s): spec.replicas not seen at 1 within %s of the write", i, name, activationTimeout)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	for _, d := range took {
		res.SamplesMs = append(res.SamplesMs, ms(d))
	}
	res.ToReplicas = summarize(took)
	progress("activation floor: bare scale write seen in p50 %.1f ms, p99 %.1f ms", res.ToReplicas.P50Ms, res.ToReplicas.P99Ms)
	stopWatch()
	return res, e.deleteNamespace(ctx, ns, 2*time.Minute)
}

// runsActivation reports whether any part that prints an activation
// latency is selected.
func (c config) runsActivation() bool {
	for _, p := range activationParts {
		if c.runs(p) {
			return true
		}
	}
	return false
}

// floorFigure is one activation figure to set beside the floor.
type floorFigure struct {
	name string
	s    Summary
}

// printFloor writes, under a part's figures, the floor and each figure's
// ratio to it (p50 to p50, p99 to p99). Without a floor it prints nothing.
func (r *Report) printFloor(w io.Writer, figs []floorFigure) {
	f := r.Floor
	if f == nil || len(figs) == 0 {
		return
	}
	fmt.Fprintf(w, "   floor (a bare /scale write seen on the same watch, this run, n=%d): p50 %s, p99 %s; figure ÷ floor:\n",
		f.ToReplicas.N, fmtMs(f.ToReplicas.P50Ms), fmtMs(f.ToReplicas.P99Ms))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, g := range figs {
		fmt.Fprintf(tw, "     %s\tp50 %s\t×%s\tp99 %s\t×%s\t\n", g.name,
			fmtMs(g.s.P50Ms), ratio(g.s.P50Ms, f.ToReplicas.P50Ms), fmtMs(g.s.P99Ms), ratio(g.s.P99Ms, f.ToReplicas.P99Ms))
	}
	tw.Flush()
}

// ratio formats a ÷ b with two significant digits ("-" when b is 0).
func ratio(a, b float64) string {
	if b <= 0 {
		return "-"
	}
	q := a / b
	switch {
	case q >= 100:
		return fmt.Sprintf("%.0f", q)
	case q >= 10:
		return fmt.Sprintf("%.1f", q)
	}
	return fmt.Sprintf("%.2f", q)
}

// seriesFigures turns series of activations into floor figures.
func seriesFigures(ss []*NATSSeries) []floorFigure {
	var out []floorFigure
	for _, s := range ss {
		out = append(out, floorFigure{s.Name, s.ToReplicas})
	}
	return out
}

func redisFigures(ss []*RedisSeries) []floorFigure {
	var out []floorFigure
	for _, s := range ss {
		out = append(out, floorFigure{s.Name, s.ToReplicas})
	}
	return out
}

func kafkaFigures(ss []*KafkaSeries) []floorFigure {
	var out []floorFigure
	for _, s := range ss {
		out = append(out, floorFigure{s.Name, s.ToReplicas})
	}
	return out
}

// printScaledJobFloor sets the ScaledJob figures beside the Job floor.
func (r *Report) printScaledJobFloor(w io.Writer, sj *ScaledJobResult) {
	f := r.JobFloor
	if f == nil {
		return
	}
	wrap(w, "   job floor: ", f.Method)
	fmt.Fprintf(w, "   job floor (n=%d): p50 %s, p99 %s; figure ÷ floor:\n", f.ToJob.N, fmtMs(f.ToJob.P50Ms), fmtMs(f.ToJob.P99Ms))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, s := range sj.Series {
		fmt.Fprintf(tw, "     %s\tp50 %s\t×%s\tp99 %s\t×%s\t\n", s.Name,
			fmtMs(s.ToJob.P50Ms), ratio(s.ToJob.P50Ms, f.ToJob.P50Ms), fmtMs(s.ToJob.P99Ms), ratio(s.ToJob.P99Ms, f.ToJob.P99Ms))
	}
	tw.Flush()
}

// JobFloor is the ScaledJob figures' floor: a bare Job create by a plain
// client, seen on the same kind of Job watch the scaledjob part uses.
type JobFloor struct {
	Method string  `json:"method"`
	ToJob  Summary `json:"create_to_job_seen"`
}

const jobFloorNamespace = "bench-job-floor"

// measureJobFloor creates cfg.activations Jobs (Pods that never run, as
// the part's), one at a time activationPause apart, and times each create
// until the Job watch (watchJobs) delivers its Add.
func measureJobFloor(ctx context.Context, e *env, cfg config) (*JobFloor, error) {
	n, ns := cfg.activations, jobFloorNamespace
	res := &JobFloor{Method: fmt.Sprintf("%d Jobs created one at a time, %s apart, by a plain client-go client (QPS 1000 / "+
		"burst 2000) in a namespace of their own; t0 just before the create, t1 when a Job informer on the namespace (the "+
		"scaledjob part's watch) delivers the Job's Add. Measured at the start of the scaledjob part.", n, activationPause)}
	if err := e.ensureNamespace(ctx, ns); err != nil {
		return nil, err
	}
	w, err := e.watchJobs(ctx, ns)
	if err != nil {
		return nil, err
	}
	defer w.stop()
	took := make([]time.Duration, 0, n)
	for i := range n {
		if err := sleep(ctx, activationPause); err != nil {
			return nil, err
		}
		job := &batchv1.Job{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("floor-%d", i), Namespace: ns, Labels: map[string]string{kedav1.LabelScaledJobName: "floor"}},
			Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers:    []corev1.Container{{Name: "job", Image: "registry.invalid/pushscale/bench:1"}},
			}}},
		}
		t0 := time.Now()
		if _, err := e.kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
			return nil, fmt.Errorf("job floor %d: create: %w", i, err)
		}
		t1, err := w.next(ctx, "floor", activationTimeout)
		if err != nil {
			return nil, fmt.Errorf("job floor %d: %w", i, err)
		}
		took = append(took, t1.Sub(t0))
	}
	res.ToJob = summarize(took)
	progress("job floor: bare Job create seen in p50 %.1f ms, p99 %.1f ms", res.ToJob.P50Ms, res.ToJob.P99Ms)
	w.stop()
	return res, e.deleteNamespace(ctx, ns, 0)
}

// targetFloorRatio is DESIGN.md's bound on webhook and Redis push
// activation p99 ÷ the floor's p99.
const targetFloorRatio = 1.5

// checkFloors adds the floor and the ratio to every activation-latency
// check (a figure "→ spec.replicas=1"), and DESIGN.md's floor-ratio
// targets for the webhook and Redis push, each after its figure's check.
func (r *Report) checkFloors() {
	f := r.Floor
	checks := make([]Check, 0, len(r.Checks)+2)
	for _, c := range r.Checks {
		if jf := r.JobFloor; jf != nil && strings.HasPrefix(c.What, "ScaledJob item → Job created, p99") {
			if got, ok := parseFigure(c.Got); ok {
				c.Floor, c.Ratio = "p99 "+fmtMs(jf.ToJob.P99Ms), "×"+ratio(got, jf.ToJob.P99Ms)
			}
		}
		if !strings.Contains(c.What, "spec.replicas=1") {
			checks = append(checks, c)
			continue
		}
		got, ok := parseFigure(c.Got)
		if !ok || f == nil {
			checks = append(checks, c)
			continue
		}
		floor, of := f.ToReplicas.P99Ms, "p99"
		if strings.Contains(c.What, ", mean,") {
			floor, of = f.ToReplicas.MeanMs, "mean"
		}
		c.Floor = of + " " + fmtMs(floor)
		c.Ratio = "×" + ratio(got, floor)
		checks = append(checks, c)
		webhook := c.What == "webhook POST → spec.replicas=1, p99"
		redisPush := strings.HasPrefix(c.What, "redis LPUSH → spec.replicas=1, p99, ") && strings.Contains(c.What, "push") && !strings.HasSuffix(c.What, "as KEDA")
		if (webhook || redisPush) && floor > 0 {
			checks = append(checks, Check{
				What:   strings.Replace(c.What, ", p99", ", p99 ÷ floor p99", 1),
				Target: fmt.Sprintf("≤ %g×", targetFloorRatio),
				Got:    "×" + ratio(got, floor),
				Pass:   got/floor <= targetFloorRatio,
				Floor:  c.Floor, Ratio: c.Ratio,
			})
		}
	}
	r.Checks = checks
}

// parseFigure reads a check's figure: "12.3 ms" or "1.05 s", in ms.
func parseFigure(s string) (float64, bool) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, false
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, false
	}
	switch f[1] {
	case "ms":
		return v, true
	case "s":
		return v * 1000, true
	}
	return 0, false
}

// printActivationFloor writes the floor's own section, before the parts.
func printActivationFloor(w io.Writer, f *ActivationFloor) {
	fmt.Fprintf(w, "\n0. Activation floor (%d bare scale writes)\n", f.Activations)
	wrap(w, "   method: ", f.Method)
	s := f.ToReplicas
	fmt.Fprintf(w, "   scale write → spec.replicas=1 seen on the watch: p50 %s, p90 %s, p99 %s, max %s, mean %s\n",
		fmtMs(s.P50Ms), fmtMs(s.P90Ms), fmtMs(s.P99Ms), fmtMs(s.MaxMs), fmtMs(s.MeanMs))
	wrap(w, "   ", "Every activation figure below is printed beside this floor, as figure ÷ floor: 1.0 would be an "+
		"autoscaler that adds nothing to its own scale write. The machine is shared (2 cores, other benchmarks), so "+
		"absolute times move between runs; the ratios move less.")
}
