package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/etcd/etcdtest"
)

// etcdSO is KEDA's etcd shape; the credentials, when the member has
// them, come from a TriggerAuthentication; %[6]s adds metadata lines.
const etcdSO = `
apiVersion: v1
kind: Secret
metadata:
  name: etcd-auth
stringData:
  username: %[3]s
  password: %[4]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: etcd-auth
spec:
  secretTargetRef:
  - parameter: username
    name: etcd-auth
    key: username
  - parameter: password
    name: etcd-auth
    key: password
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: %[5]d
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: etcd
    metadata:
      endpoints: %[2]s
      watchKey: /jobs/%[1]s
      value: "5"
%[6]s    authenticationRef:
      name: etcd-auth
`

func etcdScaledObject(name string, srv *etcdtest.Server, password string, pollingInterval int, extra string) string {
	return fmt.Sprintf(etcdSO, name, srv.Addr(), etcdtest.User, password, pollingInterval, extra)
}

func etcdPut(t *testing.T, srv *etcdtest.Server, key, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Put(ctx, key, value); err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
}

// TestEtcdScalesZeroToNAndBack: a put wakes the Deployment by watch
// (pollingInterval 300 s: nothing else could within the test), a larger
// value scales it 1→N through the HPA, 0 returns it to 0.
func TestEtcdScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	srv := etcdtest.Start(t, etcdtest.Options{Auth: true})
	etcdPut(t, srv, "/jobs/etcd-worker", "0")
	deploymentAt0(t, ns, "etcd-worker")
	apply(t, ns, etcdScaledObject("etcd-worker", srv, srv.Password(), 300, ""))
	readyAndPushed(t, ns, "etcd-worker", "Subscribed")
	start := time.Now()
	etcdPut(t, srv, "/jobs/etcd-worker", "1")
	waitReplicas(t, ns, "etcd-worker", 1, shortWait)
	t.Logf("put → 1 replica: %s", time.Since(start))
	etcdPut(t, srv, "/jobs/etcd-worker", "20")
	waitReplicas(t, ns, "etcd-worker", 4, longWait) // 20 / target 5
	etcdPut(t, srv, "/jobs/etcd-worker", "0")
	waitReplicas(t, ns, "etcd-worker", 0, longWait)
	metricNamedNoSecret(t, ns, "etcd-worker", "s0-etcd--jobs-etcd-worker", srv.Password())
}

// TestEtcdRestartLosesNoActivation: a put right after a member restart
// wakes the target, whether it lands before the client has reconnected
// (the read after the reconnect, or the resumed watch, sees it) or after.
func TestEtcdRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	srv := etcdtest.Start(t, etcdtest.Options{Auth: true})
	etcdPut(t, srv, "/jobs/etcd-restart", "0")
	deploymentAt0(t, ns, "etcd-restart")
	apply(t, ns, etcdScaledObject("etcd-restart", srv, srv.Password(), 300, ""))
	pushHealthyIs(t, ns, "etcd-restart", metav1.ConditionTrue, "Subscribed")
	srv.Stop()
	pushHealthyIs(t, ns, "etcd-restart", metav1.ConditionFalse, "SubscriptionLost")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	etcdPut(t, srv, "/jobs/etcd-restart", "2")
	waitReplicas(t, ns, "etcd-restart", 1, longWait)
}

// TestEtcdRefusedPassword: a wrong password is Ready=False and
// PushHealthy=False naming username and password, the password nowhere.
func TestEtcdRefusedPassword(t *testing.T) {
	ns := newNamespace(t)
	srv := etcdtest.Start(t, etcdtest.Options{Auth: true})
	deploymentAt0(t, ns, "etcd-refused")
	const wrong = "wr0ng-etcd-" + "passw0rd"
	apply(t, ns, etcdScaledObject("etcd-refused", srv, wrong, 1, ""))
	eventually(t, longWait, "Ready=False and PushHealthy=False naming username and password", func() (bool, error) {
		r := condition(t, ns, "etcd-refused", kedav1.ConditionReady)
		p := condition(t, ns, "etcd-refused", kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionFalse && p.Status == metav1.ConditionFalse &&
			strings.Contains(p.Message, "username and password"), fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	noSecretShown(t, ns, "etcd-refused", wrong)
}

// TestEtcdBadMetadata: metadata KEDA refuses is Ready=False naming the
// field.
func TestEtcdBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	srv := etcdtest.Start(t, etcdtest.Options{})
	deploymentAt0(t, ns, "etcd-bad")
	so := strings.Replace(etcdScaledObject("etcd-bad", srv, "x-pass", 1, ""), `value: "5"`, `value: "lots"`, 1)
	apply(t, ns, so)
	eventually(t, shortWait, "Ready=False naming value", func() (bool, error) {
		r := condition(t, ns, "etcd-bad", kedav1.ConditionReady)
		return r.Status == metav1.ConditionFalse && strings.Contains(r.Message, `value "lots"`), fmt.Errorf("Ready %+v", r)
	})
}
