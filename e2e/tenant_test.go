package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/clienttls/clienttlstest"
	"github.com/pushscale/pushscale/sources/redis/redistest"
)

// TestTenantHugeKeyDerivationStallsNothing: a tenant's Secret holds an
// encrypted client key whose PBKDF2 parameters ask for 2^31-1 iterations
// (hours of one core each time it is parsed). Four such ScaledObjects
// once pinned every reconcile worker; now each is refused at once,
// naming the count, and another object in the same namespace reconciles.
func TestTenantHugeKeyDerivationStallsNothing(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	p := clienttlstest.NewPKI(t)
	apply(t, ns, fmt.Sprintf(`
apiVersion: v1
kind: Secret
metadata:
  name: tls
stringData:
  tls: enable
  cert: %q
  key: %q
  keyPassword: anything
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: tls
spec:
  secretTargetRef:
  - {parameter: tls, name: tls, key: tls}
  - {parameter: cert, name: tls, key: cert}
  - {parameter: key, name: tls, key: key}
  - {parameter: keyPassword, name: tls, key: keyPassword}
`, p.ClientCert, clienttlstest.PKCS8WithIterations(t, 1<<31-1)))
	for i := range 4 {
		name := fmt.Sprintf("slow-%d", i)
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		apply(t, ns, fmt.Sprintf(`
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef: {name: %[1]s}
  triggers:
  - type: redis
    metadata: {address: "127.0.0.1:1", listName: q}
    authenticationRef: {name: tls}
`, name))
	}
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "fine", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, fmt.Sprintf(webhookSO, "fine", "work", 300))
	eventually(t, shortWait, "the other ScaledObject Ready", func() (bool, error) {
		c := condition(t, ns, "fine", kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	for i := range 4 {
		name := fmt.Sprintf("slow-%d", i)
		eventually(t, shortWait, name+" Ready=False naming the iteration count", func() (bool, error) {
			c := condition(t, ns, name, kedav1.ConditionReady)
			return c.Status == metav1.ConditionFalse && strings.Contains(c.Message, "iteration count 2147483647"), fmt.Errorf("%+v", c)
		})
	}
}

// TestTenantThousandsOfEnvReferences: a scale target with 3,000 optional
// secretKeyRefs (each a watch, before) costs only the variable its trigger
// names: the ScaledObject is Ready at once and the gateway watches a
// handful of objects.
func TestTenantThousandsOfEnvReferences(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := redistest.StartServer(t, redistest.ServerOptions{NotifyKeyspaceEvents: "KA"})
	if _, err := env.kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "redis"}, StringData: map[string]string{"addr": srv.Addr()},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := deployment(ns, "many", 0)
	ctr := &d.Spec.Template.Spec.Containers[0]
	yes := true
	for i := range 3000 {
		ctr.Env = append(ctr.Env, corev1.EnvVar{Name: fmt.Sprintf("V%d", i), ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: fmt.Sprintf("absent-%d", i)}, Key: "k", Optional: &yes}}})
	}
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "REDIS_ADDR", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "redis"}, Key: "addr"}}})
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: many
spec:
  scaleTargetRef: {name: many}
  triggers:
  - type: redis
    metadata: {addressFromEnv: REDIS_ADDR, listName: jobs}
`)
	eventually(t, shortWait, "Ready", func() (bool, error) {
		c := condition(t, ns, "many", kedav1.ConditionReady)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	if n, ok := gatewaySample(t, "pushscale_reference_watches "); !ok || n > 200 {
		t.Fatalf("the gateway watches %g Secrets and ConfigMaps: the 3,000 unused references were resolved", n)
	}
	if err := srv.Client().LPush(ctx, "jobs", "a").Err(); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "many", 1, shortWait)
}

// TestSecretRotationKeepsArrivals: rotating the token of a stream fed by
// CloudEvents re-watches its trigger in place: the arrivals of its window
// stay (before, every trigger of the object was unwatched first, the
// stream dropped, and the value fell to 0 mid-burst).
func TestSecretRotationKeepsArrivals(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "burst", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, `
apiVersion: v1
kind: Secret
metadata:
  name: hook
stringData:
  token: tok-1-aaaaaaaaaaaaaaaa
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: hook
spec:
  secretTargetRef:
  - {parameter: token, name: hook, key: token}
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: burst
spec:
  scaleTargetRef: {name: burst}
  cooldownPeriod: 300
  triggers:
  - type: webhook
    metadata: {stream: orders, targetValue: "10", windowSeconds: "300"}
    authenticationRef: {name: hook}
`)
	ce := func(i int) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":"%d","source":"/shop","type":"order.created"}`, i)
	}
	send := func(i int, token string) (int, string) {
		return post(t, ns, "orders", "application/cloudevents+json", ce(i), "Authorization", "Bearer "+token)
	}
	eventually(t, shortWait, "the stream to accept the first event", func() (bool, error) {
		code, body := send(0, "tok-1-aaaaaaaaaaaaaaaa")
		return code == http.StatusAccepted, fmt.Errorf("%d %s", code, body)
	})
	for i := 1; i < 5; i++ {
		if code, body := send(i, "tok-1-aaaaaaaaaaaaaaaa"); code != http.StatusAccepted {
			t.Fatalf("event %d: %d %s", i, code, body)
		}
	}
	waitReplicas(t, ns, "burst", 1, shortWait)
	sec, err := env.kube.CoreV1().Secrets(ns).Get(ctx, "hook", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sec.Data["token"] = []byte("tok-2-bbbbbbbbbbbbbbbb")
	if _, err := env.kube.CoreV1().Secrets(ns).Update(ctx, sec, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var body string
	eventually(t, shortWait, "the rotated token to be accepted", func() (bool, error) {
		var code int
		code, body = send(5, "tok-2-bbbbbbbbbbbbbbbb")
		return code == http.StatusAccepted, fmt.Errorf("%d %s", code, body)
	})
	if !strings.Contains(body, `"value":6`) {
		t.Fatalf("after the rotation: %s, want the five earlier arrivals kept (value 6)", body)
	}
	if got := replicas(t, ns, "burst"); got != 1 {
		t.Fatalf("replicas %d after the rotation, want 1", got)
	}
}
