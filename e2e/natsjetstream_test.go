package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/natsjetstream/natstest"
)

// natsSO is KEDA's nats-jetstream shape with pushscale's natsClientURL and
// a token from a TriggerAuthentication (clientURL empty: KEDA's shape,
// polled through the monitoring endpoint).
const natsSO = `
apiVersion: v1
kind: Secret
metadata:
  name: nats-auth
stringData:
  token: %[4]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: nats-auth
spec:
  secretTargetRef:
  - parameter: clientToken
    name: nats-auth
    key: token
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
  - type: nats-jetstream
    metadata:
      natsServerMonitoringEndpoint: %[2]s
      account: $G
      stream: jobs
      consumer: workers
      lagThreshold: "2"
%[3]s
`

func natsScaledObject(name string, srv *natstest.Server, token string, pollingInterval int, push bool) string {
	client := ""
	if push {
		client = "      natsClientURL: " + srv.ClientURL() + "\n    authenticationRef:\n      name: nats-auth"
	}
	return fmt.Sprintf(natsSO, name, srv.MonitoringEndpoint(), client, token, pollingInterval)
}

func natsServer(t *testing.T, token string) *natstest.Server {
	srv := natstest.Start(t, natstest.Options{Token: token})
	if err := srv.CreateStream(context.Background(), "jobs", "workers", "jobs.>"); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestNATSJetStreamScalesZeroToNAndBack: a publish wakes the Deployment by
// push (pollingInterval 300 s: nothing else could within the test), a
// backlog scales it 1→N through the HPA, acks return it to 0 (read every
// pollingInterval while active, lowered to 2 s for that).
func TestNATSJetStreamScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	const token = "nats-t0ken-value"
	srv := natsServer(t, token)
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "js-consumer", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, natsScaledObject("js-consumer", srv, token, 300, true))
	eventually(t, shortWait, "Ready and PushHealthy", func() (bool, error) {
		so := scaledObject(t, ns, "js-consumer")
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue, fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	if err := srv.Publish(ctx, "jobs.a", 1); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "js-consumer", 1, shortWait)
	if err := srv.Publish(ctx, "jobs.a", 7); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "js-consumer", 4, longWait) // 8 pending / lagThreshold 2
	// Acks are not pushed: an active trigger sees them at its next read,
	// every pollingInterval. Down to 2 s for the rest of the test.
	patchScaledObject(t, ns, "js-consumer", map[string]any{"spec": map[string]any{"pollingInterval": 2}})
	if err := srv.Consume(ctx, "jobs", "workers", 8); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "js-consumer", 0, longWait)
	if so := scaledObject(t, ns, "js-consumer"); so.Status.ExternalMetricNames[0] != "s0-nats-jetstream-jobs" {
		t.Fatalf("externalMetricNames %v", so.Status.ExternalMetricNames)
	}
	if strings.Contains(gwLogs.String(), token) {
		t.Fatal("the NATS token appears in the gateway's logs")
	}
}

// TestNATSJetStreamRestartLosesNoActivation: messages published right after
// a server restart, before the gateway has reconnected, wake the target
// (the read after the reconnect sees them).
func TestNATSJetStreamRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := natsServer(t, "tok-restart")
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "js-restart", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, natsScaledObject("js-restart", srv, "tok-restart", 300, true))
	eventually(t, shortWait, "PushHealthy", func() (bool, error) {
		c := condition(t, ns, "js-restart", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionTrue, fmt.Errorf("%+v", c)
	})
	srv.Stop()
	eventually(t, shortWait, "PushHealthy=False while NATS is down", func() (bool, error) {
		c := condition(t, ns, "js-restart", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionFalse, fmt.Errorf("%+v", c)
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Publish(ctx, "jobs.a", 2); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "js-restart", 1, longWait)
}

// TestNATSJetStreamPollsWithoutClientURL: KEDA's manifest unchanged (no
// natsClientURL) works by polling the monitoring endpoint and says so.
func TestNATSJetStreamPollsWithoutClientURL(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := natsServer(t, "")
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "js-polled", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, natsScaledObject("js-polled", srv, "unused", 1, false))
	eventually(t, shortWait, "PushHealthy=False NotSupported", func() (bool, error) {
		c := condition(t, ns, "js-polled", kedav1.ConditionPushHealthy)
		return c.Status == metav1.ConditionFalse && c.Reason == "NotSupported", fmt.Errorf("%+v", c)
	})
	if err := srv.Publish(ctx, "jobs.a", 1); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "js-polled", 1, longWait)
}

// TestNATSJetStreamRefusedToken: a wrong token is Ready=False and
// PushHealthy=False PermissionDenied naming natsClientURL, with the token
// nowhere in status, Events or logs.
func TestNATSJetStreamRefusedToken(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := natsServer(t, "the-right-token")
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "js-refused", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const wrong = "wr0ng-t0ken-value"
	apply(t, ns, natsScaledObject("js-refused", srv, wrong, 1, true))
	// Ready keeps KEDA's words for a failing trigger; PushHealthy says why.
	eventually(t, longWait, "Ready=False and PushHealthy=False PermissionDenied", func() (bool, error) {
		r := condition(t, ns, "js-refused", kedav1.ConditionReady)
		p := condition(t, ns, "js-refused", kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionFalse && p.Status == metav1.ConditionFalse && p.Reason == "PermissionDenied" &&
			strings.Contains(p.Message, "natsClientURL"), fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	so := scaledObject(t, ns, "js-refused")
	if s := fmt.Sprintf("%+v", so.Status); strings.Contains(s, wrong) {
		t.Errorf("the token appears in the status: %s", s)
	}
	if strings.Contains(gwLogs.String(), wrong) {
		t.Error("the token appears in the gateway's logs")
	}
	events, err := env.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range events.Items {
		if strings.Contains(ev.Message, wrong) {
			t.Errorf("the token appears in an Event: %s", ev.Message)
		}
	}
}
