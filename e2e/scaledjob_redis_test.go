package e2e

import (
	"context"
	"fmt"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// redisSJ is a ScaledJob on a Redis list (KEDA's shape), its password from
// the container env of the Job template (passwordFromEnv) and the address
// from a TriggerAuthentication.
const redisSJ = `
apiVersion: v1
kind: Secret
metadata:
  name: redis-conn
stringData:
  address: %[2]s
  password: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: redis-conn
spec:
  secretTargetRef:
  - parameter: address
    name: redis-conn
    key: address
---
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata:
  name: %[1]s
spec:
  pollingInterval: 300
  maxReplicaCount: 10
  envSourceContainerName: work
  jobTargetRef:
    backoffLimit: 0
    template:
      spec:
        restartPolicy: Never
        containers:
        - name: sidecar
          image: registry.invalid/pushscale/sidecar:1
        - name: work
          image: registry.invalid/pushscale/worker:1
          env:
          - name: REDIS_PASSWORD
            valueFrom:
              secretKeyRef: {name: redis-conn, key: password}
  triggers:
  - type: redis
    metadata:
      listName: jobs
      listLength: "1"
      passwordFromEnv: REDIS_PASSWORD
    authenticationRef:
      name: redis-conn
`

// TestScaledJobRedisList: with pollingInterval 300 s only a push can
// create Jobs within the test: 3 LPUSHes create 3 Jobs; a worker that pops
// one item (RPOP) per Job it finishes lets a fourth item's Job start and
// no more.
func TestScaledJobRedisList(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: "sj-pa55"})
	jt := trackJobs(t, ns)
	apply(t, ns, fmt.Sprintf(redisSJ, "redis-work", srv.Addr(), "sj-pa55"))
	waitSJCondition(t, ns, "redis-work", kedav1.ConditionReady, metav1.ConditionTrue)
	waitSJCondition(t, ns, "redis-work", kedav1.ConditionPushHealthy, metav1.ConditionTrue)
	rdb := srv.Client()
	for i := range 3 {
		if err := rdb.LPush(ctx, "jobs", fmt.Sprint(i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	jt.waitCreated(t, 3)
	first := jt.names(unfinishedJobs)[0]
	if err := rdb.RPop(ctx, "jobs").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := env.kubelet.FinishJobPods(ctx, ns, first, true); err != nil {
		t.Fatal(err)
	}
	if err := rdb.LPush(ctx, "jobs", "3").Err(); err != nil {
		t.Fatal(err)
	}
	jt.waitCreated(t, 4)
	if sj := scaledJob(t, ns, "redis-work"); sj.Status.AuthenticationsTypes != "redis-conn" || sj.Status.ExternalMetricNames[0] != "s0-redis-jobs" {
		t.Fatalf("status %+v", sj.Status)
	}
}
