package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/rabbitmq/rabbitmqtest"
)

// rabbitSO is KEDA's rabbitmq shape (amqp host without credentials, the
// credentials from a TriggerAuthentication) with pushscale's
// managementHost: the private broker's management API is not on 15672.
const rabbitSO = `
apiVersion: v1
kind: Secret
metadata:
  name: rabbit-auth
stringData:
  username: %[4]s
  password: %[5]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: rabbit-auth
spec:
  secretTargetRef:
  - parameter: username
    name: rabbit-auth
    key: username
  - parameter: password
    name: rabbit-auth
    key: password
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: %[6]d
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: rabbitmq
    metadata:
      host: amqp://%[2]s/
      managementHost: http://%[3]s
      queueName: %[7]s
      mode: QueueLength
      value: "2"
    authenticationRef:
      name: rabbit-auth
`

func rabbitScaledObject(name string, srv *rabbitmqtest.Server, password string, pollingInterval int, queue string) string {
	return fmt.Sprintf(rabbitSO, name, srv.Addr(), srv.MgmtAddr(), rabbitmqtest.User, password, pollingInterval, queue)
}

// rabbitQueue declares a durable queue, bound to a durable direct exchange
// with the queue's name as routing key unless exchange is empty.
func rabbitQueue(t *testing.T, srv *rabbitmqtest.Server, queue, exchange string) {
	t.Helper()
	if err := srv.Declare(queue, exchange, queue); err != nil {
		t.Fatal(err)
	}
}

// rabbitConsume consumes n messages of queue as the application would
// (manual acks, prefetch 1) and returns their bodies; it fails the test
// on a message delivered again.
func rabbitConsume(t *testing.T, srv *rabbitmqtest.Server, queue string, n int) []string {
	t.Helper()
	var bodies []string
	err := srv.Setup(func(ch *amqp.Channel) error {
		if err := ch.Qos(1, 0, false); err != nil {
			return err
		}
		ds, err := ch.Consume(queue, "app", false, false, false, false, nil)
		if err != nil {
			return err
		}
		timeout := time.After(30 * time.Second)
		for len(bodies) < n {
			select {
			case d := <-ds:
				if d.Redelivered {
					t.Errorf("message %q delivered with the redelivered flag", d.Body)
				}
				bodies = append(bodies, string(d.Body))
				if err := d.Ack(false); err != nil {
					return err
				}
			case <-timeout:
				return fmt.Errorf("consumed %d of %d messages", len(bodies), n)
			}
		}
		return ch.Cancel("app", false)
	})
	if err != nil {
		t.Fatal(err)
	}
	return bodies
}

// pushHealthyIs waits (shortWait) until ScaledObject ns/name's PushHealthy
// has status and, unless empty, reason, and returns it.
func pushHealthyIs(t *testing.T, ns, name string, status metav1.ConditionStatus, reason string) kedav1.Condition {
	t.Helper()
	var c kedav1.Condition
	eventually(t, shortWait, "PushHealthy "+string(status)+" "+reason, func() (bool, error) {
		c = condition(t, ns, name, kedav1.ConditionPushHealthy)
		return c.Status == status && (reason == "" || c.Reason == reason), fmt.Errorf("%+v", c)
	})
	return c
}

// TestRabbitMQScalesZeroToNAndBack: a publish through an exchange wakes
// the Deployment by push (pollingInterval 300 s: nothing else could within
// the test), a backlog scales it 1→N through the HPA, the application's
// consumption returns it to 0 (read every pollingInterval while active,
// lowered to 2 s for that), and the application's consumer sees every
// message in order, none redelivered.
func TestRabbitMQScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := rabbitmqtest.Start(t)
	rabbitQueue(t, srv, "jobs", "work")
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "rmq-consumer", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, rabbitScaledObject("rmq-consumer", srv, srv.Password(), 300, "jobs"))
	eventually(t, shortWait, "Ready and PushHealthy", func() (bool, error) {
		so := scaledObject(t, ns, "rmq-consumer")
		r, _ := so.Status.Conditions.GetCondition(kedav1.ConditionReady)
		p, _ := so.Status.Conditions.GetCondition(kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionTrue && p.Status == metav1.ConditionTrue, fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	start := time.Now()
	if err := srv.Publish("work", "jobs", 1); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "rmq-consumer", 1, shortWait)
	t.Logf("publish → 1 replica: %s", time.Since(start))
	if err := srv.Publish("work", "jobs", 7); err != nil {
		t.Fatal(err)
	}
	// Active: the backlog is read every pollingInterval; down to 2 s.
	patchScaledObject(t, ns, "rmq-consumer", map[string]any{"spec": map[string]any{"pollingInterval": 2}})
	waitReplicas(t, ns, "rmq-consumer", 4, longWait) // 8 ready / value 2
	got := rabbitConsume(t, srv, "jobs", 8)
	want := []string{"0", "0", "1", "2", "3", "4", "5", "6"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the application consumed %v, want %v", got, want)
	}
	waitReplicas(t, ns, "rmq-consumer", 0, longWait)
	if so := scaledObject(t, ns, "rmq-consumer"); so.Status.ExternalMetricNames[0] != "s0-rabbitmq-jobs" {
		t.Fatalf("externalMetricNames %v", so.Status.ExternalMetricNames)
	}
	if strings.Contains(gwLogs.String(), srv.Password()) {
		t.Fatal("the RabbitMQ password appears in the gateway's logs")
	}
}

// TestRabbitMQDefaultExchangeIsPolled: a queue fed only through the default
// exchange cannot be tapped: PushHealthy=False NotSupported saying so, and
// a publish wakes the Deployment at the next poll.
func TestRabbitMQDefaultExchangeIsPolled(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := rabbitmqtest.Start(t)
	rabbitQueue(t, srv, "direct-jobs", "")
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "rmq-polled", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, rabbitScaledObject("rmq-polled", srv, srv.Password(), 1, "direct-jobs"))
	if c := pushHealthyIs(t, ns, "rmq-polled", metav1.ConditionFalse, "NotSupported"); !strings.Contains(c.Message, "default") {
		t.Errorf("PushHealthy message %q does not say why", c.Message)
	}
	if err := srv.Publish("", "direct-jobs", 1); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "rmq-polled", 1, longWait)
	if got := rabbitConsume(t, srv, "direct-jobs", 1); got[0] != "0" {
		t.Errorf("consumed %v", got)
	}
}

// TestRabbitMQRestartLosesNoActivation: a message published right after a
// broker restart, before the gateway has reconnected, wakes the target
// (the read after the reconnect sees it).
func TestRabbitMQRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := rabbitmqtest.Start(t)
	rabbitQueue(t, srv, "restart-jobs", "restart-ex")
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "rmq-restart", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply(t, ns, rabbitScaledObject("rmq-restart", srv, srv.Password(), 300, "restart-jobs"))
	pushHealthyIs(t, ns, "rmq-restart", metav1.ConditionTrue, "")
	srv.Stop()
	pushHealthyIs(t, ns, "rmq-restart", metav1.ConditionFalse, "SubscriptionLost")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := srv.Publish("restart-ex", "restart-jobs", 2); err != nil {
		t.Fatal(err)
	}
	waitReplicas(t, ns, "rmq-restart", 1, longWait)
}

// TestRabbitMQRefusedPassword: a wrong password is Ready=False and
// PushHealthy=False PermissionDenied naming the credentials, with the
// password nowhere in status or logs.
func TestRabbitMQRefusedPassword(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := rabbitmqtest.Start(t)
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "rmq-refused", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	const wrong = "wr0ng-rabbit-" + "passw0rd"
	apply(t, ns, rabbitScaledObject("rmq-refused", srv, wrong, 1, "jobs"))
	// Ready keeps KEDA's words for a failing trigger; PushHealthy says why.
	eventually(t, longWait, "Ready=False and PushHealthy=False PermissionDenied", func() (bool, error) {
		r := condition(t, ns, "rmq-refused", kedav1.ConditionReady)
		p := condition(t, ns, "rmq-refused", kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionFalse && p.Status == metav1.ConditionFalse && p.Reason == "PermissionDenied" &&
			strings.Contains(p.Message, "username and password"), fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	so := scaledObject(t, ns, "rmq-refused")
	if s := fmt.Sprintf("%+v", so.Status); strings.Contains(s, wrong) {
		t.Errorf("the password appears in the status: %s", s)
	}
	if strings.Contains(gwLogs.String(), wrong) {
		t.Error("the password appears in the gateway's logs")
	}
}
