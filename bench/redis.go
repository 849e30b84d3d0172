package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// redisType is the trigger type of the Redis measurements (KEDA's list
// trigger), and what DisablePush names to poll it instead.
const redisType = "redis"

// redisServer is one dedicated redis-server of a measurement, with the
// Secret and TriggerAuthentication (parameter "password", as in KEDA's
// manifests) that the ScaledObjects of one namespace use to reach it.
type redisServer struct {
	srv  *redistest.Server
	auth string
}

// Values of notify-keyspace-events for startRedis: the keyspace
// notification path, and none (the client tracking path).
const (
	notifyAll  = "KA"
	notifyNone = ""
)

// startRedis starts a redis-server on a free loopback port with
// notify-keyspace-events notify and a random password, and creates the
// Secret and TriggerAuthentication auth in ns. The caller must call close.
func (e *env) startRedis(ctx context.Context, ns, auth, notify string) (*redisServer, error) {
	password, err := randomToken()
	if err != nil {
		return nil, err
	}
	srv, err := redistest.NewServer(ctx, redistest.ServerOptions{NotifyKeyspaceEvents: notify, Password: password})
	if err != nil {
		return nil, err
	}
	if err := e.createSecretAuth(ctx, ns, auth, "password", password); err != nil {
		srv.Close()
		return nil, err
	}
	return &redisServer{srv: srv, auth: auth}, nil
}

// close kills the server and closes its client.
func (r *redisServer) close() { r.srv.Close() }

// redisSpec is a ScaledObject on list, listLength 1: active, and woken
// from 0, as soon as the list holds one item. pollingInterval 0 keeps
// KEDA's default (30 s).
func (r *redisServer) redisSpec(list string, pollingInterval time.Duration) soSpec {
	return soSpec{
		cooldown: 86400, maxReplicas: 1, authRef: r.auth,
		pollingInterval: int32(pollingInterval / time.Second),
		redis:           &redisList{address: r.srv.Addr(), listName: list, listLength: "1"},
	}
}

// pollingOn is the gateway of the polled Redis measurements: it watches
// ns only and polls the redis trigger type instead of subscribing. The
// push measurements use the first gateway as it is (all namespaces,
// default options). Restricting the polling one to its namespace keeps
// what the push measurements left behind from costing it anything.
func pollingOn(ns string) func(*gateway.Options) {
	return func(o *gateway.Options) {
		o.WatchNamespace = ns
		o.DisablePush = []string{redisType}
	}
}

// gatewayMode describes the gateway of a Redis measurement.
func gatewayMode(poll bool) string {
	if poll {
		return fmt.Sprintf("a gateway restarted in this process on the same ports, watching %s only, with "+
			"DisablePush [%q] (--disable-push=%s)", redisPollNamespace, redisType, redisType)
	}
	return "the first gateway: all namespaces, default options (push)"
}

// deleteObjects deletes the ScaledObjects and Deployments named objs in
// ns (the HPAs go with their ScaledObjects, through the garbage
// collector), and does not wait.
func (e *env) deleteObjects(ctx context.Context, ns string, objs []string) error {
	return forEach(ctx, len(objs), func(ctx context.Context, i int) error {
		err := e.keda.Delete().Namespace(ns).Resource("scaledobjects").Name(objs[i]).Do(ctx).Error()
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete ScaledObject %s/%s: %w", ns, objs[i], err)
		}
		err = e.kube.AppsV1().Deployments(ns).Delete(ctx, objs[i], metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete deployment %s/%s: %w", ns, objs[i], err)
		}
		return nil
	})
}

// createRedisObjects creates, for each name, a Deployment at 0 and a
// ScaledObject with spec(i), and waits (at most timeout) until every
// ScaledObject is Ready with its HPA. It returns the seconds from the first
// ScaledObject create until then. As for measurement 3, the Deployments are
// created first and the deployment controller has seen them (not timed):
// otherwise its ReplicaSet creates share the apiserver with the figure.
// The namespace must exist.
func (e *env) createRedisObjects(ctx context.Context, ns string, objs []string, spec func(i int) soSpec, timeout time.Duration) (float64, error) {
	if err := e.createDeployments(ctx, ns, objs); err != nil {
		return 0, err
	}
	if _, _, err := e.settleDeployments(ctx, ns, len(objs), 2*time.Minute); err != nil {
		return 0, err
	}
	ready, err := e.watchReadinessOf(ctx, ns, len(objs), objs)
	if err != nil {
		return 0, err
	}
	defer ready.stop()
	start := time.Now()
	if err := e.createScaledObjects(ctx, ns, objs, spec); err != nil {
		return 0, err
	}
	times, err := ready.wait(ctx, timeout)
	if err != nil {
		return 0, err
	}
	return times.Done.Sub(start).Seconds(), nil
}

// waitPushHealth waits (at most timeout) until every ScaledObject of objs
// in ns has the PushHealthy condition with status want (True for a push
// gateway, False for a polling one), and returns a summary such as
// "100 of 100 PushHealthy=True (Subscribed)". Objects still otherwise at
// the timeout are an error: the figure would not measure what it says.
func (e *env) waitPushHealth(ctx context.Context, ns string, objs []string, want metav1.ConditionStatus, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		summary, wrong, err := e.pushHealth(ctx, ns, objs, want)
		if err == nil && wrong == 0 {
			return summary, nil
		}
		if time.Now().After(deadline) {
			if err != nil {
				return "", err
			}
			return "", fmt.Errorf("%s: %s after %s, want PushHealthy=%s on all", ns, summary, timeout, want)
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// pushHealth lists the ScaledObjects of ns once and counts, among objs,
// those whose PushHealthy status is not want.
func (e *env) pushHealth(ctx context.Context, ns string, objs []string, want metav1.ConditionStatus) (string, int, error) {
	var list kedav1.ScaledObjectList
	if err := e.keda.Get().Namespace(ns).Resource("scaledobjects").Do(ctx).Into(&list); err != nil {
		return "", 0, fmt.Errorf("list ScaledObjects in %s: %w", ns, err)
	}
	mine := make(map[string]bool, len(objs))
	for _, o := range objs {
		mine[o] = true
	}
	byReason := map[string]int{}
	wrong := 0
	for _, so := range list.Items {
		if !mine[so.Name] {
			continue
		}
		c, ok := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		if !ok || c.Status != want {
			wrong++
		}
		key := "PushHealthy absent"
		if ok {
			key = fmt.Sprintf("PushHealthy=%s (%s)", c.Status, c.Reason)
		}
		byReason[key]++
	}
	wrong += len(objs) - countValues(byReason)
	var parts []string
	for k, n := range byReason {
		parts = append(parts, fmt.Sprintf("%d of %d %s", n, len(objs), k))
	}
	slices.Sort(parts)
	if len(parts) == 0 {
		parts = []string{"none listed"}
	}
	return strings.Join(parts, ", "), wrong, nil
}

func countValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
