package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/e2e/controlplane"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// Leader election timings of TestLeaderElection: short, so a crash's
// failover is told apart from a graceful stop's. A standby watches the
// Lease and takes it over when the lease duration has passed since it saw
// the last renewal: after a crash, at most lease + retry period (the
// leader renews every retry period), plus the apiserver's round trips.
// After a graceful stop the lease is released, and the standby takes it at
// once.
const (
	leTestLease = 4 * time.Second
	leTestRenew = 3 * time.Second
	leTestRetry = time.Second
)

const leaderSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
  labels:
    e2e.pushscale.io/shard: b
spec:
  scaleTargetRef:
    name: %[1]s
  minReplicaCount: 0
  cooldownPeriod: 300
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: %[1]s
      targetValue: "2"
`

// leaderRedisSO waits for a push: its pollingInterval is longer than the
// test.
const leaderRedisSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
  labels:
    e2e.pushscale.io/shard: b
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: 300
  cooldownPeriod: 300
  triggers:
  - type: redis
    metadata:
      address: %[2]s
      listName: jobs
      listLength: "2"
`

// TestLeaderElection runs the gateway binary as three processes on the
// shared control plane, limited to a namespace of their own and to shard b
// (which the shared gateway leaves out), with their Lease and saved levels
// in that namespace. It checks the one-writer rule and the failovers:
//   - one leads; the standby is ready (its /readyz says standby), sends no
//     write to the apiserver (its pushscale_kube_api_requests_total write
//     verbs stay 0, Lease requests aside) and has none refused by its fence;
//   - a POST to the standby is forwarded: the leader wakes the Deployment;
//   - both answer the external metrics API (called on each process's own
//     port), the standby from the levels the leader saved;
//   - SIGKILL of the leader: the standby leads within the lease duration
//     and two jittered retry periods, with the level posted before the kill
//     (more than one save interval before); an item pushed to Redis while
//     no replica led, seen by the standby's own subscription, activates its
//     Deployment at the takeover; and the new leader
//     decides every object again at once (a Deployment scaled to 0 in the
//     leaderless window is woken again);
//   - SIGTERM of that leader: a third process takes over at once (well
//     under the lease duration).
func TestLeaderElection(t *testing.T) {
	ns := newNamespace(t)
	binary := buildGateway(t)
	a := startElectedGateway(t, binary, ns, "gw-a")
	waitLeader(t, a)
	b := startElectedGateway(t, binary, ns, "gw-b")
	waitReady(t, b)
	if body := b.get(t, "/readyz"); !strings.HasPrefix(body, "ok: standby") {
		t.Fatalf("the standby's /readyz says %q, want it to say standby", body)
	}
	if v := b.sample(t, "pushscale_leader "); v != 0 {
		t.Fatalf("two leaders: b's pushscale_leader is %v", v)
	}

	createDeployment(t, ns, "worker", 0)
	apply(t, ns, fmt.Sprintf(leaderSO, "worker"))
	waitCondition(t, ns, "worker", kedav1.ConditionReady, metav1.ConditionTrue, kedav1.ReasonScaledObjectReady)
	waitHPA(t, ns, "keda-hpa-worker", "made by the leader", nil)
	redisSrv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	createDeployment(t, ns, "consumer", 0)
	apply(t, ns, fmt.Sprintf(leaderRedisSO, "consumer", redisSrv.Addr()))
	waitCondition(t, ns, "consumer", kedav1.ConditionReady, metav1.ConditionTrue, kedav1.ReasonScaledObjectReady)
	waitCondition(t, ns, "consumer", kedav1.ConditionPushHealthy, metav1.ConditionTrue, "")

	// A POST to the standby reaches the leader, which wakes the target.
	b.postLevel(t, ns, "worker", 3)
	waitReplicas(t, ns, "worker", 1, shortWait)

	// Both serve the metric: the leader from its stream, the standby
	// from the levels the leader saved (read every save interval).
	for _, g := range []*electedGateway{a, b} {
		eventually(t, shortWait, g.name+"'s external metric to be 3", func() (bool, error) {
			raw, err := g.externalMetric(ns, "s0-webhook-worker", "worker")
			return err == nil && strings.Contains(raw, `"value":"3"`), fmt.Errorf("%v %s", err, raw)
		})
	}
	// The standby wrote nothing; the leader did (finalizer-free status,
	// HPA, scale, levels).
	if w := b.writes(t); w != 0 {
		t.Fatalf("the standby sent %v writes to the apiserver", w)
	}
	if f := b.sample(t, "pushscale_leader_fenced_requests_total "); f != 0 {
		t.Fatalf("the standby tried %v writes (refused by its fence): a write path lacks its gate", f)
	}
	if w := a.writes(t); w == 0 {
		t.Fatal("the leader wrote nothing")
	}
	// The level is saved: the standby read 3 from the saved levels above.

	// SIGKILL: nothing released; the standby waits for the lease to expire.
	killed := time.Now()
	a.kill(t)
	// In the leaderless window: the worker is scaled to 0 behind our
	// back, and an item arrives in Redis (the standby's subscription sees
	// it; nobody may act on it yet).
	scaleDeployment(t, ns, "worker", 0)
	if err := redisSrv.Client().LPush(context.Background(), "jobs", "item").Err(); err != nil {
		t.Fatal(err)
	}
	if replicas(t, ns, "consumer") != 0 {
		t.Fatal("the consumer was woken while no replica led")
	}
	waitLeader(t, b)
	failover := time.Since(killed)
	t.Logf("failover after SIGKILL: %v (lease %v, retry %v)", failover.Round(10*time.Millisecond), leTestLease, leTestRetry)
	if limit := leTestLease + leTestRetry + 500*time.Millisecond; failover > limit {
		t.Fatalf("the standby took %v to lead after the leader was killed, more than %v", failover, limit)
	}
	if v := b.sample(t, "pushscale_leader_takeovers_total "); v != 1 {
		t.Fatalf("b's pushscale_leader_takeovers_total is %v, want 1", v)
	}
	// The new leader decides again at once: on the level it kept, and on
	// the item its standby subscription saw.
	waitReplicas(t, ns, "worker", 1, shortWait)
	waitReplicas(t, ns, "consumer", 1, shortWait)
	if took := time.Since(killed); took > failover+5*time.Second {
		t.Fatalf("the consumer woke %v after the kill, %v after the takeover", took, took-failover)
	}
	raw, err := b.externalMetric(ns, "s0-webhook-worker", "worker")
	if err != nil || !strings.Contains(raw, `"value":"3"`) {
		t.Fatalf("after the takeover the level is lost: %v %s", err, raw)
	}

	// SIGTERM: the lease is released; a standby takes it at once.
	c := startElectedGateway(t, binary, ns, "gw-c")
	waitReady(t, c)
	if c.sample(t, "pushscale_leader ") != 0 {
		t.Fatal("c leads beside b")
	}
	stopped := time.Now()
	b.term(t)
	graceful := time.Since(stopped)
	waitLeader(t, c)
	handover := time.Since(stopped)
	t.Logf("handover after SIGTERM: %v from the signal, %v after the process exited (lease %v)",
		handover.Round(10*time.Millisecond), (handover - graceful).Round(10*time.Millisecond), leTestLease)
	if handover-graceful > leTestRetry {
		t.Fatalf("c took %v after b exited to lead: the lease was not released", handover-graceful)
	}
	c.postLevel(t, ns, "worker", 5) // the new leader serves the stream itself
	eventually(t, shortWait, "c's external metric to be 5", func() (bool, error) {
		raw, err := c.externalMetric(ns, "s0-webhook-worker", "worker")
		return err == nil && strings.Contains(raw, `"value":"5"`), fmt.Errorf("%v %s", err, raw)
	})
}

// electedGateway is one gateway process of TestLeaderElection.
type electedGateway struct{ *gatewayProcess }

// startElectedGateway runs the gateway binary with leader election on,
// limited to namespace ns and shard b, its Lease and levels in ns, on
// loopback ports, until t ends.
func startElectedGateway(t *testing.T, binary, ns, name string) *electedGateway {
	t.Helper()
	ports, err := controlplane.FreePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{
		"--kubeconfig=" + env.cp.Kubeconfig,
		fmt.Sprintf("--webhook-addr=127.0.0.1:%d", ports[0]),
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", ports[1]),
		fmt.Sprintf("--metrics-api-addr=127.0.0.1:%d", ports[2]),
		"--watch-namespace=" + ns, "--watch-label-selector=" + shardLabel + "=b", "--cluster-object-namespace=" + ns,
		"--manage-certificates=false", "--webhook-save-interval=200ms",
		"--leader-elect=true", "--leader-elect-lease-duration=" + leTestLease.String(),
		"--leader-elect-renew-deadline=" + leTestRenew.String(), "--leader-elect-retry-period=" + leTestRetry.String(),
		"--advertise-address=127.0.0.1",
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "POD_NAME=" + name}
	return &electedGateway{startGatewayProcess(t, name, binary, args, env, ports[0], ports[1], ports[2])}
}

func (g *electedGateway) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(g.metrics + path)
	if err != nil {
		t.Fatalf("%s %s: %v", g.name, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// sample returns the first /metrics sample of g that starts with prefix
// (0 when there is none).
func (g *electedGateway) sample(t *testing.T, prefix string) float64 {
	t.Helper()
	var sum float64
	g.samples(t, func(line string) {
		if v, ok := strings.CutPrefix(line, prefix); ok && sum == 0 {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			sum = f
		}
	})
	return sum
}

// writes sums g's pushscale_kube_api_requests_total of the write verbs,
// Lease requests aside (candidates create or take over the Lease).
func (g *electedGateway) writes(t *testing.T) float64 {
	t.Helper()
	var sum float64
	g.samples(t, func(line string) {
		if !strings.HasPrefix(line, "pushscale_kube_api_requests_total{") || strings.Contains(line, `resource="leases"`) {
			return
		}
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
			if strings.Contains(line, `verb="`+verb+`"`) {
				_, v, _ := strings.Cut(line, "} ")
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatal(err)
				}
				sum += f
			}
		}
	})
	return sum
}

func (g *electedGateway) samples(t *testing.T, each func(string)) {
	t.Helper()
	resp, err := http.Get(g.metrics + "/metrics")
	if err != nil {
		t.Fatalf("%s /metrics: %v", g.name, err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		each(sc.Text())
	}
}

// externalMetric asks g's own external metrics API (not the aggregator)
// for metric of ScaledObject so, as the admin.
func (g *electedGateway) externalMetric(ns, metric, so string) (string, error) {
	cfg := rest.CopyConfig(env.cfg)
	cfg.Host = fmt.Sprintf("https://127.0.0.1:%d", g.metricsAPIPort)
	cfg.TLSClientConfig = rest.TLSClientConfig{Insecure: true} // its self-signed certificate
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	raw, err := kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, metric).
		Param("labelSelector", "scaledobject.keda.sh/name="+so).DoRaw(ctx)
	return string(raw), err
}

// waitReady waits for g's /readyz to answer 200.
func waitReady(t *testing.T, g *electedGateway) {
	t.Helper()
	eventually(t, longWait, g.name+" to be ready", func() (bool, error) {
		select {
		case err := <-g.done:
			g.done <- err
			t.Fatalf("%s exited: %v\n%s", g.name, err, tail(g.logs.String(), 40))
		default:
		}
		resp, err := http.Get(g.metrics + "/readyz")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz: %s", resp.Status)
	})
}

// waitLeader waits until g is ready and leads.
func waitLeader(t *testing.T, g *electedGateway) {
	t.Helper()
	waitReady(t, g)
	eventually(t, longWait, g.name+" to lead", func() (bool, error) {
		v := g.sample(t, "pushscale_leader ")
		return v == 1, fmt.Errorf("pushscale_leader %v", v)
	})
}
