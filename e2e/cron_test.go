package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

const cronSO = `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: 300
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: cron
    metadata:
      timezone: %[2]s
      start: "%[3]s"
      end: "%[4]s"
      desiredReplicas: "3"
`

// TestCronWindowScalesZeroToNAndBack: a window opening at the next whole
// minute and closing two minutes later (cron expressions have minute
// resolution) wakes the Deployment at its start, on the gateway's timer
// (pollingInterval 300 s: no poll could), the HPA takes it to
// desiredReplicas, and it returns to 0 after the end (cooldownPeriod 2 s).
func TestCronWindowScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "nightly", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if now.Second() > 50 { // leave time to see the target idle before the start
		time.Sleep(time.Duration(61-now.Second()) * time.Second)
		now = time.Now().UTC()
	}
	start := now.Truncate(time.Minute).Add(time.Minute)
	end := start.Add(2 * time.Minute)
	apply(t, ns, fmt.Sprintf(cronSO, "nightly", "Etc/UTC", minuteOf(start), minuteOf(end)))
	pushHealthyIs(t, ns, "nightly", metav1.ConditionTrue, "Subscribed")
	waitCondition(t, ns, "nightly", kedav1.ConditionReady, metav1.ConditionTrue, "")
	if time.Now().Before(start) {
		if got := replicas(t, ns, "nightly"); got != 0 {
			t.Fatalf("%d replicas before the window", got)
		}
	}
	waitReplicas(t, ns, "nightly", 1, longWait)
	if woke := time.Now(); woke.Before(start) {
		t.Fatalf("woke at %s, before the window's start %s", woke, start)
	}
	waitReplicas(t, ns, "nightly", 3, longWait)
	want := fmt.Sprintf("s0-cron-Etc-UTC-%dxxxx-%dxxxx", start.Minute(), end.Minute())
	if got := scaledObject(t, ns, "nightly").Status.ExternalMetricNames; len(got) != 1 || got[0] != want {
		t.Errorf("externalMetricNames %v, want [%s]", got, want)
	}
	waitReplicas(t, ns, "nightly", 0, longWait)
	if back := time.Now(); back.Before(end) {
		t.Fatalf("back to 0 at %s, before the window's end %s", back, end)
	}
}

// minuteOf is the cron expression firing at t's minute of every hour.
func minuteOf(t time.Time) string { return fmt.Sprintf("%d * * * *", t.Minute()) }

// TestCronBadMetadata: an unknown time zone and a window whose start is
// its end are Ready=False naming the field.
func TestCronBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	for _, name := range []string{"badzone", "sameedges"} {
		if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	apply(t, ns, fmt.Sprintf(cronSO, "badzone", "Mars/Olympus", "0 * * * *", "30 * * * *"))
	apply(t, ns, fmt.Sprintf(cronSO, "sameedges", "Etc/UTC", "0 * * * *", "0 * * * *"))
	assertBadMetadata(t, ns, "badzone", `timezone "Mars/Olympus"`)
	assertBadMetadata(t, ns, "sameedges", "start and end")
}
