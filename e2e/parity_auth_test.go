package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// kubeRequests sums the gateway's pushscale_kube_api_requests_total
// samples whose labels contain every one of match (e.g. `resource="secrets"`).
func kubeRequests(t *testing.T, match ...string) float64 {
	t.Helper()
	return kubeRequestsAt(t, gw.metrics, match...)
}

// kubeRequestsAt is kubeRequests of the gateway serving metrics at base.
func kubeRequestsAt(t *testing.T, base string, match ...string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
lines:
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "pushscale_kube_api_requests_total{")
		if !ok {
			continue
		}
		labels, value, _ := strings.Cut(rest, "} ")
		for _, m := range match {
			if !strings.Contains(labels, m) {
				continue lines
			}
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += f
	}
	return sum
}

// assertNowhere fails t when any of values appears in the ScaledObjects'
// status, the namespace's Events, the gateway's logs or its /metrics.
func assertNowhere(t *testing.T, ns string, names []string, values ...string) {
	t.Helper()
	var dump strings.Builder
	for _, n := range names {
		fmt.Fprintf(&dump, "%+v\n", scaledObject(t, ns, n).Status)
	}
	events, err := env.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&dump, "%+v\n", events.Items)
	resp, err := http.Get(gw.metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dump.Write(body)
	dump.WriteString(gwLogs.String())
	for _, v := range values {
		if strings.Contains(dump.String(), v) {
			t.Fatalf("a password appears in status, Events, /metrics or the gateway's logs")
		}
	}
}

// waitReadyAndPushHealthy waits for Ready=True and PushHealthy=True.
func waitReadyAndPushHealthy(t *testing.T, ns, name string) {
	t.Helper()
	eventually(t, longWait, name+" Ready and PushHealthy", func() (bool, error) {
		so := scaledObject(t, ns, name)
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue, fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
}

// TestParitySecretRotation: the Redis password is changed on the server
// (old connections killed) and then in the Secret; the gateway, without a
// restart, re-watches the trigger with the new password, and a push
// (pollingInterval 300 s: only a push can be that fast) scales 0→1. While
// this runs the gateway reads the Secret from its watch: reconciles make no
// Secret request.
func TestParitySecretRotation(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const oldPW, newPW = "rotate-old-pw-7f3a", "rotate-new-pw-91c2"
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: oldPW})
	createDeployment(t, ns, "rotated", 0)
	apply(t, ns, redisScaledObject("rotated", srv.Addr(), oldPW, 300, ""))
	waitReadyAndPushHealthy(t, ns, "rotated")

	// Reconciles read the Secret from memory: three spec changes, each
	// seen in the HPA, make no Secret request at all.
	secretsBefore := kubeRequests(t, `resource="secrets"`)
	allBefore := kubeRequests(t)
	for _, m := range []int32{6, 7, 8} {
		patchScaledObject(t, ns, "rotated", map[string]any{"spec": map[string]any{"maxReplicaCount": m}})
		waitHPA(t, ns, "keda-hpa-rotated", fmt.Sprintf("maxReplicas %d", m), func(h *autoscalingv2.HorizontalPodAutoscaler) bool {
			return h.Spec.MaxReplicas == m
		})
	}
	if d := kubeRequests(t, `resource="secrets"`) - secretsBefore; d != 0 {
		t.Fatalf("three reconciles made %v Secret requests, want 0", d)
	}
	t.Logf("apiserver requests over three reconciles (HPA and status writes included): %v; Secret requests: 0", kubeRequests(t)-allBefore)
	if n := kubeRequests(t, `resource="secrets"`, `verb="get"`); n != 0 {
		t.Fatalf("the gateway sent %v GETs of Secrets, want none", n)
	}

	// The server's password changes; connections made with the old one go.
	admin := srv.Client()
	if err := admin.ConfigSet(ctx, "requirepass", newPW).Err(); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"normal", "pubsub"} {
		if err := admin.Do(ctx, "CLIENT", "KILL", "TYPE", typ, "SKIPME", "yes").Err(); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, longWait, "the trigger to fail with the old password", func() (bool, error) {
		so := scaledObject(t, ns, "rotated")
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status != metav1.ConditionTrue || p.Status != metav1.ConditionTrue, fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})

	// The Secret follows: no restart, the trigger recovers.
	sec, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "redis-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data = map[string][]byte{"password": []byte(newPW)}
	if _, err := env.kube.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReadyAndPushHealthy(t, ns, "rotated")
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: newPW})
	defer rdb.Close()
	if err := rdb.LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "rotated", 1, shortWait)
	assertNowhere(t, ns, []string{"rotated"}, oldPW, newPW)
}

// TestParitySecretCreatedLater: a ScaledObject whose Secret does not exist
// yet says so, naming the Secret and the key; creating the Secret heals it.
func TestParitySecretCreatedLater(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const pw = "late-secret-pw-5d1e"
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: pw})
	createDeployment(t, ns, "late", 0)
	manifest := redisScaledObject("late", srv.Addr(), pw, 300, "")
	apply(t, ns, manifest[strings.Index(manifest, "\n---\n")+5:]) // all but the Secret
	c := waitCondition(t, ns, "late", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, "secret "+ns+"/redis-auth: not found") {
		t.Fatalf("Ready message %q does not name the missing Secret", c.Message)
	}
	if _, err := env.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "redis-auth"}, StringData: map[string]string{"other": "x"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "Ready to name the missing key", func() (bool, error) {
		c := condition(t, ns, "late", kedav1.ConditionReady)
		return strings.Contains(c.Message, `secret `+ns+`/redis-auth has no key "password"`), fmt.Errorf("%+v", c)
	})
	sec, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "redis-auth", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["password"] = []byte(pw)
	if _, err := env.kube.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitReadyAndPushHealthy(t, ns, "late")
	if err := srv.Client().LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "late", 1, shortWait)
	assertNowhere(t, ns, []string{"late"}, pw)
}

const vaultAuthSO = `
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: vault-auth
spec:
  hashiCorpVault:
    address: https://vault.example:8200
    authentication: token
    credential:
      token: vault-token-never-shown
    secrets:
    - parameter: password
      key: password
      path: secret/data/redis
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: vaulted
spec:
  scaleTargetRef:
    name: vaulted
  triggers:
  - type: redis
    metadata:
      address: %s
      listName: jobs
      listLength: "2"
    authenticationRef:
      name: vault-auth
`

// TestParityVaultNotSupported: a TriggerAuthentication with hashiCorpVault
// is accepted; the ScaledObject using it says that source is not
// supported, naming the field, and the TriggerAuthentication gets a
// Warning Event, while a neighbour in the namespace scales.
func TestParityVaultNotSupported(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: "pw"})
	createDeployment(t, ns, "vaulted", 0)
	createDeployment(t, ns, "neighbour", 0)
	apply(t, ns, fmt.Sprintf(vaultAuthSO, srv.Addr()))
	apply(t, ns, redisScaledObject("neighbour", srv.Addr(), "pw", 300, ""))

	c := waitCondition(t, ns, "vaulted", kedav1.ConditionReady, metav1.ConditionFalse, kedav1.ReasonScaledObjectCheckFailed)
	if !strings.Contains(c.Message, "spec.hashiCorpVault not supported by pushscale") {
		t.Fatalf("Ready message %q does not name spec.hashiCorpVault", c.Message)
	}
	waitEvent(t, ns, "vault-auth", scaler.ReasonUnsupportedAuthSource, "spec.hashiCorpVault")

	waitReadyAndPushHealthy(t, ns, "neighbour")
	if err := srv.Client().LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "neighbour", 1, shortWait)
	if got := replicas(t, ns, "vaulted"); got != 0 {
		t.Fatalf("the ScaledObject on Vault scaled its target to %d", got)
	}
	if getHPA(t, ns, "keda-hpa-vaulted") != nil {
		t.Fatal("the ScaledObject on Vault has an HPA")
	}
	assertNowhere(t, ns, []string{"vaulted", "neighbour"}, "vault-token-never-shown")
}

const clusterAuthSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: moved
spec:
  scaleTargetRef:
    name: moved
  pollingInterval: 300
  triggers:
  - type: redis
    metadata:
      listName: jobs
      listLength: "2"
    authenticationRef:
      kind: ClusterTriggerAuthentication
      name: %s
`

// TestParityClusterAuthConfigMapChange: a ClusterTriggerAuthentication
// reads its ConfigMap and Secret from --cluster-object-namespace; when
// the ConfigMap's address moves to another server, the trigger follows
// without a restart and a push there scales 0→1.
func TestParityClusterAuthConfigMapChange(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const pw = "cluster-auth-pw-3b8f"
	first := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: pw})
	second := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA", Password: pw})
	name := ns // unique: cluster-scoped, and shared with the namespace's name
	cms := env.kube.CoreV1().ConfigMaps(systemNamespace)
	secrets := env.kube.CoreV1().Secrets(systemNamespace)
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"address": first.Addr()}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cms.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	if _, err := secrets.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, StringData: map[string]string{"password": pw}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = secrets.Delete(context.Background(), name, metav1.DeleteOptions{}) })
	cta := kedav1.SchemeGroupVersion.WithResource("clustertriggerauthentications")
	var obj unstructured.Unstructured
	obj.SetUnstructuredContent(map[string]any{
		"apiVersion": kedav1.SchemeGroupVersion.String(), "kind": "ClusterTriggerAuthentication",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"configMapTargetRef": []any{map[string]any{"parameter": "address", "name": name, "key": "address"}},
			"secretTargetRef":    []any{map[string]any{"parameter": "password", "name": name, "key": "password"}},
		},
	})
	if _, err := dyn().Resource(cta).Create(ctx, &obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dyn().Resource(cta).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	createDeployment(t, ns, "moved", 0)
	apply(t, ns, fmt.Sprintf(clusterAuthSO, name))
	waitReadyAndPushHealthy(t, ns, "moved")

	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["address"] = second.Addr()
	if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The move shows in the trigger's subscription: the first server loses
	// its subscriber, then a push on the second one scales.
	eventually(t, shortWait, "the gateway to leave the first server", func() (bool, error) {
		n, err := first.Client().PubSubNumPat(ctx).Result()
		if err != nil {
			return false, err
		}
		chans, err := first.Client().PubSubChannels(ctx, "*").Result()
		return n == 0 && len(chans) == 0, fmt.Errorf("patterns %d channels %v (%v)", n, chans, err)
	})
	waitReadyAndPushHealthy(t, ns, "moved")
	if err := second.Client().LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "moved", 1, shortWait)
	assertNowhere(t, ns, []string{"moved"}, pw)
}
