package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/ptr"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// ReadyFloor is the floor of "1,000 ScaledObjects Ready with their HPAs":
// the same ScaledObject creates, plus the apiserver requests the gateway
// sent for them, issued directly by a plain client at the gateway's
// aggregate client rate, with no gateway running.
type ReadyFloor struct {
	Method  string `json:"method"`
	Objects int    `json:"objects"`
	// Requests are the gateway's apiserver requests while the figure was
	// measured (pushscale_kube_api_requests_total, before and after).
	Requests []GatewayRequests `json:"gateway_requests"`
	// Clients are the gateway clients whose budgets the floor uses.
	Clients []string `json:"clients"`
	// Replayed counts the requests the floor sent besides the creates,
	// NotOK those answered other than 2xx (objects the floor does not
	// have, such as Deployments, answer 404).
	Replayed int `json:"replayed"`
	NotOK    int `json:"not_2xx"`
	// CreatedS is when the last create was answered, DoneS when the last
	// request was (the floor), from the first create.
	CreatedS float64 `json:"created_s"`
	DoneS    float64 `json:"floor_s"`
}

// GatewayRequests is one kind of request the gateway sent.
type GatewayRequests struct {
	Request   string  `json:"request"` // "verb resource"
	Count     float64 `json:"count"`
	PerObject float64 `json:"per_object"`
	Client    string  `json:"client"`
	// Replayed is false for what the floor leaves out (watches, updates,
	// cluster-scoped or unknown resources); the reason is in Client.
	Replayed bool `json:"replayed"`
}

const readyFloorNamespace = "bench-ready-floor"

// scrapeKubeRequests reads the gateway's pushscale_kube_api_requests_total
// by "verb resource".
func (e *env) scrapeKubeRequests(ctx context.Context) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.metrics+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape gateway /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape gateway /metrics: %s", resp.Status)
	}
	const name = "pushscale_kube_api_requests_total"
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), name+"{") {
			continue
		}
		_, l, v, err := parseSample(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("gateway metrics line %q: %w", sc.Text(), err)
		}
		out[l["verb"]+" "+l["resource"]] += v
	}
	return out, sc.Err()
}

// gatewayClient names the gateway client (each with its own token bucket
// at --kube-api-qps / --kube-api-burst) that sends requests for resource,
// from gateway.Run and scaler.New; "" when the floor cannot issue them.
func gatewayClient(resource string) string {
	base, _, _ := strings.Cut(resource, "/")
	switch {
	case strings.HasSuffix(resource, "/scale"):
		return "controller's scale client"
	case base == "scaledobjects" || base == "scaledjobs" || base == "triggerauthentications":
		return "controller's keda.sh REST client"
	case base == "leases":
		return "gateway's clientset (leader election)"
	case base == "configmaps":
		return "level saver's clientset"
	case base == "events":
		return "controller's Event recorder clientset"
	case apiPrefix(base) != "":
		return "controller's clientset"
	}
	return ""
}

// apiPrefix is the API path of a namespaced resource the floor may touch.
func apiPrefix(base string) string {
	switch base {
	case "events", "secrets", "configmaps", "pods", "services":
		return "/api/v1"
	case "deployments", "replicasets", "statefulsets":
		return "/apis/apps/v1"
	case "horizontalpodautoscalers":
		return "/apis/autoscaling/v2"
	case "scaledobjects", "scaledjobs", "triggerauthentications":
		return "/apis/keda.sh/v1alpha1"
	case "leases":
		return "/apis/coordination.k8s.io/v1"
	case "jobs":
		return "/apis/batch/v1"
	}
	return ""
}

// floorRequest is one request the floor issues for an object.
type floorRequest struct {
	method, path, contentType string
	body                      []byte
	client                    string
}

// buildFloorRequest returns the request of kind "verb resource" for
// object obj (the k-th of its kind for it), or false when the floor
// leaves such requests out.
func buildFloorRequest(kind, ns, obj string, k int) (floorRequest, bool) {
	verb, resource, _ := strings.Cut(kind, " ")
	base, sub, _ := strings.Cut(resource, "/")
	prefix, client := apiPrefix(base), gatewayClient(resource)
	if prefix == "" || client == "" {
		return floorRequest{}, false
	}
	coll := prefix + "/namespaces/" + ns + "/" + base
	name := obj
	switch base {
	case "horizontalpodautoscalers":
		name = kedav1.HPANamePrefix + obj
	case "events", "configmaps", "secrets", "leases":
		name = fmt.Sprintf("%s.floor-%d", obj, k)
	}
	item := coll + "/" + name
	if sub != "" {
		item += "/" + sub
	}
	r := floorRequest{client: client}
	switch verb {
	case "get":
		r.method, r.path = http.MethodGet, item
	case "list":
		r.method, r.path = http.MethodGet, coll
	case "patch":
		r.method, r.path, r.contentType = http.MethodPatch, item, "application/merge-patch+json"
		if sub == "status" {
			r.body = fmt.Appendf(nil, `{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Floor","message":"%d"}]}}`, k)
		} else {
			r.body = fmt.Appendf(nil, `{"metadata":{"annotations":{"bench.pushscale.dev/floor":"%d"}}}`, k)
		}
	case "create":
		if sub != "" {
			return floorRequest{}, false
		}
		body, ok := floorObject(base, ns, obj, name, k)
		if !ok {
			return floorRequest{}, false
		}
		r.method, r.path, r.contentType, r.body = http.MethodPost, coll, "application/json", body
	default: // watch (long-lived, not per object), update (needs the object read first), delete
		return floorRequest{}, false
	}
	return r, true
}

// floorObject is the body of a create: an HPA like the gateway's (one
// External metric), an Event about the ScaledObject, or a small ConfigMap,
// Secret or Lease.
func floorObject(base, ns, obj, name string, k int) ([]byte, bool) {
	meta := metav1.ObjectMeta{Name: name, Namespace: ns}
	var o any
	switch base {
	case "horizontalpodautoscalers":
		if k > 0 {
			meta.Name = fmt.Sprintf("%s-%d", name, k)
		}
		q := resource.MustParse("1e12")
		o = &autoscalingv2.HorizontalPodAutoscaler{
			TypeMeta: metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}, ObjectMeta: meta,
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: obj},
				MinReplicas:    ptr.To[int32](1), MaxReplicas: 1,
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "s0-webhook-" + obj},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q},
				}}},
			},
		}
	case "events":
		now := metav1.Now()
		o = &corev1.Event{
			TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Event"}, ObjectMeta: meta,
			InvolvedObject: corev1.ObjectReference{APIVersion: kedav1.SchemeGroupVersion.String(), Kind: "ScaledObject", Namespace: ns, Name: obj},
			Reason:         "Floor", Message: "floor", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "bench"},
			FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}
	case "configmaps":
		o = &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}, ObjectMeta: meta, Data: map[string]string{"floor": "1"}}
	case "secrets":
		o = &corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}, ObjectMeta: meta, StringData: map[string]string{"floor": "1"}}
	default:
		return nil, false
	}
	b, err := json.Marshal(o)
	return b, err == nil
}

// measureReadyFloor runs with the gateway stopped: in a fresh namespace it
// creates len(objs) ScaledObjects as measureScale did (the bench's client,
// createWorkers in flight), and after each create sends that object's share
// of the requests in delta (the gateway's during the figure), each through
// a token bucket standing for the gateway client that sent it, at
// --kube-api-qps / --kube-api-burst. The floor is the time from the first
// create until every request is answered.
func measureReadyFloor(ctx context.Context, e *env, cfg config, n int, delta map[string]float64) (*ReadyFloor, error) {
	ns := readyFloorNamespace
	res := &ReadyFloor{Objects: n}
	kinds := slices.Sorted(func(yield func(string) bool) {
		for k := range delta {
			if !yield(k) {
				return
			}
		}
	})
	limiters := map[string]flowcontrol.RateLimiter{}
	var replay []string
	for _, k := range kinds {
		c := delta[k]
		_, ok := buildFloorRequest(k, ns, "x", 0)
		client := gatewayClient(strings.SplitN(k, " ", 2)[1])
		if !ok {
			client = "left out"
		} else {
			replay = append(replay, k)
			if limiters[client] == nil {
				limiters[client] = flowcontrol.NewTokenBucketRateLimiter(cfg.gatewayQPS, cfg.gatewayBurst)
				res.Clients = append(res.Clients, client)
			}
		}
		res.Requests = append(res.Requests, GatewayRequests{Request: k, Count: c, PerObject: c / float64(n), Client: client, Replayed: ok})
	}
	slices.Sort(res.Clients)
	// Within one object: reads first, then the ScaledObject's own patches,
	// the creates, and its status last, as a reconcile would.
	order := func(k string) int {
		switch {
		case strings.HasPrefix(k, "get ") || strings.HasPrefix(k, "list "):
			return 0
		case strings.HasSuffix(k, "/status"):
			return 3
		case strings.HasPrefix(k, "create "):
			return 2
		}
		return 1
	}
	slices.SortStableFunc(replay, func(a, b string) int { return order(a) - order(b) })
	res.Method = readyFloorMethod(cfg, n, res.Clients)

	if err := e.createNamespace(ctx, ns); err != nil {
		return nil, err
	}
	objs := names("so", n)
	raw := e.kube.CoreV1().RESTClient()
	var created, done time.Duration
	var replayed, notOK int64
	var mu sync.Mutex
	start := time.Now()
	// The creates run as in the figure, createWorkers in flight; as each
	// is answered, one of createWorkers other workers sends that object's
	// requests, so a create never waits for a token bucket.
	g, gctx := errgroup.WithContext(ctx)
	createdObjs := make(chan int, n)
	g.Go(func() error {
		defer close(createdObjs)
		return forEach(gctx, n, func(ctx context.Context, i int) error {
			err := e.keda.Post().Namespace(ns).Resource("scaledobjects").
				Body(scaledObject(ns, objs[i], idleSpec(objs[i], hookAuth))).Do(ctx).Error()
			if err != nil {
				return fmt.Errorf("create ScaledObject %s/%s: %w", ns, objs[i], err)
			}
			mu.Lock()
			created = max(created, time.Since(start))
			mu.Unlock()
			createdObjs <- i
			return nil
		})
	})
	send := func(ctx context.Context, i int) error {
		var sent, bad int64
		for _, k := range replay {
			// Object i's share: the counts spread evenly, remainders too.
			c := delta[k]
			share := int(math.Floor(c*float64(i+1)/float64(n))) - int(math.Floor(c*float64(i)/float64(n)))
			for j := range share {
				// A /scale read goes to the figure's own Deployment (the
				// floor's namespace has none: it would read a 404).
				rns := ns
				if strings.HasSuffix(k, "/scale") {
					rns = scaleNamespace
				}
				r, _ := buildFloorRequest(k, rns, objs[i], j)
				if err := limiters[r.client].Wait(ctx); err != nil {
					return err
				}
				req := raw.Verb(r.method).AbsPath(r.path)
				if r.body != nil {
					req = req.SetHeader("Content-Type", r.contentType).Body(r.body)
				}
				var code int
				if err := req.Do(ctx).StatusCode(&code).Error(); err != nil && code == 0 {
					return fmt.Errorf("%s %s: %w", r.method, r.path, err)
				}
				sent++
				if code < 200 || code > 299 {
					bad++
				}
			}
		}
		mu.Lock()
		done = max(done, time.Since(start))
		replayed, notOK = replayed+sent, notOK+bad
		mu.Unlock()
		return nil
	}
	for range createWorkers {
		g.Go(func() error {
			for i := range createdObjs {
				if err := send(gctx, i); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	done = max(done, created)
	res.CreatedS, res.DoneS = created.Seconds(), done.Seconds()
	res.Replayed, res.NotOK = int(replayed), int(notOK)
	progress("ready floor: %d creates and %d requests in %.1f s", n, replayed, res.DoneS)
	return res, nil
}

// emptyReadyFloor deletes the floor's objects by collection, so that the
// gateway started next finds none of its ScaledObjects.
func (e *env) emptyReadyFloor(ctx context.Context) error {
	ns, all := readyFloorNamespace, metav1.ListOptions{}
	if err := e.keda.Delete().Namespace(ns).Resource("scaledobjects").Do(ctx).Error(); err != nil {
		return fmt.Errorf("delete the ScaledObjects of %s: %w", ns, err)
	}
	if err := e.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all); err != nil {
		return fmt.Errorf("delete the HPAs of %s: %w", ns, err)
	}
	if err := e.kube.CoreV1().Events(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, all); err != nil {
		return fmt.Errorf("delete the Events of %s: %w", ns, err)
	}
	return nil
}

func readyFloorMethod(cfg config, n int, clients []string) string {
	return fmt.Sprintf("The gateway's apiserver requests while the figure above was measured (its own counter "+
		"pushscale_kube_api_requests_total, scraped before the first create and after the last Ready; it includes "+
		"what the gateway did meanwhile for other objects, e.g. saving levels), by verb and resource. Then, with the gateway "+
		"stopped, in a fresh namespace: the same %d ScaledObject creates by the same client (QPS 1000 / burst 2000, %d in flight), "+
		"and as each create is answered, that object's share of those requests (counts spread evenly over the objects; a /scale read reads the "+
		"figure's own Deployment of that name), sent "+
		"one after another by one of %d other workers through one token bucket per gateway client that sent them (%s), each at the "+
		"gateway's --kube-api-qps %g / --kube-api-burst %d: an aggregate of %g requests/s. The gateway builds these "+
		"clients, each with its own bucket at those flags: the clientset of gateway.Run (leader election, serving "+
		"certificates), a dynamic client (serving certificates), the level saver's clientset, and in the controller "+
		"(scaler.New) a clientset (HPAs, Deployments, Secrets), a clientset for the Event recorder, a keda.sh REST client (ScaledObject patches and "+
		"status), a discovery client, a scale client (/scale) and a dynamic client; the metrics API library has its own. "+
		"The floor has no Deployments and no gateway: reads of objects it does not have answer 404 as quickly. "+
		"Watches (long-lived, not per object), updates (they need the object read first) and unknown resources are left out "+
		"and marked so. Floor = first create until the last request is answered: no autoscaler with these client budgets "+
		"can make %d ScaledObjects Ready with these requests sooner on this machine.",
		n, createWorkers, createWorkers, strings.Join(clients, ", "), cfg.gatewayQPS, cfg.gatewayBurst, cfg.gatewayQPS*float32(len(clients)), n)
}

// printReadyFloor writes the 1,000-Ready floor under the figure.
func (r *Report) printReadyFloor(w io.Writer) {
	f, s := r.ReadyFloor, r.Scale
	if f == nil || s == nil {
		return
	}
	wrap(w, "   floor method: ", f.Method)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   gateway request\tcount\tper object\tfloor sends it through\t")
	for _, q := range f.Requests {
		fmt.Fprintf(tw, "   %s\t%.0f\t%.2f\t%s\t\n", q.Request, q.Count, q.PerObject, q.Client)
	}
	tw.Flush()
	fmt.Fprintf(w, "   floor: last create answered at %.1f s, last of %d requests answered at %.1f s (%d answered other than 2xx)\n",
		f.CreatedS, f.Replayed, f.DoneS, f.NotOK)
	fmt.Fprintf(w, "   figure %.1f s, floor %.1f s: ×%s\n", s.ReadyS, f.DoneS, ratio(s.ReadyS, f.DoneS))
}

// checkReadyFloor sets the floor beside the 1,000-Ready check, and beside
// the Ready checks of the broker parts with as many objects: the gateway
// sends the same apiserver requests per object whatever the trigger type
// (an HPA create, a /scale read, a status write, an Event), so measurement
// 3's floor is theirs too, marked as borrowed.
func (r *Report) checkReadyFloor() {
	f := r.ReadyFloor
	if f == nil || r.Scale == nil {
		return
	}
	n := thousands(int64(r.Scale.Objects))
	for i := range r.Checks {
		c := &r.Checks[i]
		if !strings.Contains(c.What, "Ready with their HPAs") || !strings.HasPrefix(c.What, n+" ") {
			continue
		}
		if strings.HasPrefix(c.What, n+" ScaledObjects") {
			c.Floor = fmt.Sprintf("%.1f s", f.DoneS)
			c.Ratio = "×" + ratio(r.Scale.ReadyS, f.DoneS)
			continue
		}
		var got float64
		if _, err := fmt.Sscanf(c.Got, "%f s", &got); err == nil {
			c.Floor = fmt.Sprintf("%.1f s (of 3.)", f.DoneS)
			c.Ratio = "×" + ratio(got, f.DoneS)
		}
	}
}
