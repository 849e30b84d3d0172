package e2e

import (
	"fmt"
	"testing"

	"github.com/pushscale/pushscale/sources/prometheus/promtest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// promSO is KEDA's prometheus shape with a bearer token from a
// TriggerAuthentication.
const promSO = `
apiVersion: v1
kind: Secret
metadata:
  name: prom-auth
stringData:
  token: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: prom-auth
spec:
  secretTargetRef:
  - parameter: bearerToken
    name: prom-auth
    key: token
---
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: %[1]s
spec:
  scaleTargetRef:
    name: %[1]s
  pollingInterval: 1
  cooldownPeriod: 2
  maxReplicaCount: 5
  triggers:
  - type: prometheus
    metadata:
      serverAddress: %[2]s
      query: sum(jobs_waiting{queue="orders"})
      threshold: "%[4]s"
      authModes: bearer
    authenticationRef:
      name: prom-auth
`

// promTarget creates the Deployment name and its ScaledObject reading srv
// with token.
func promTarget(t *testing.T, ns, name string, srv *sourcetest.HTTPServer, token, threshold string) {
	t.Helper()
	scaledTarget(t, ns, name, fmt.Sprintf(promSO, name, srv.URL(), token, threshold))
}

// TestPrometheusScalesZeroToNAndBack: a sample above 0 wakes the target
// (polled every pollingInterval: Prometheus pushes nothing), a larger one
// scales it 1→N through the HPA, 0 returns it to 0.
func TestPrometheusScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	const token = "pr0m-e2e-bearer-t0ken"
	api := &promtest.API{Bearer: token}
	api.Set(0)
	srv := sourcetest.StartHTTP(t, api)
	promTarget(t, ns, "prom-app", srv, token, "2")
	pollsZeroToNAndBack(t, ns, "prom-app", api.Set, "s0-prometheus", token)
	if q := api.Queries(); len(q) == 0 || q[0].Get("query") != `sum(jobs_waiting{queue="orders"})` {
		t.Errorf("queries %v", q)
	}
}

// TestPrometheusRestartLosesNoActivation: work that appears while the
// server is down wakes the target once it answers again on the same port.
func TestPrometheusRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	api := &promtest.API{Bearer: "tok-restart"}
	api.Set(0)
	srv := sourcetest.StartHTTP(t, api)
	promTarget(t, ns, "prom-restart", srv, "tok-restart", "2")
	restartLosesNoActivation(t, ns, "prom-restart", srv, api.Set)
}

// TestPrometheusRefusedCredentials: a wrong token is Ready=False, with the
// token nowhere in status, Events or logs, and the refusal naming the
// bearerToken parameter where the metric is asked for.
func TestPrometheusRefusedCredentials(t *testing.T) {
	ns := newNamespace(t)
	api := &promtest.API{Bearer: "the-right-pr0m-token"}
	api.Set(5)
	srv := sourcetest.StartHTTP(t, api)
	const wrong = "wr0ng-pr0m-t0ken-value"
	promTarget(t, ns, "prom-refused", srv, wrong, "2")
	assertRefused(t, ns, "prom-refused", api.Refusals, wrong, "s0-prometheus", "bearerToken")
}

// TestPrometheusBadMetadata: a threshold of 0 is Ready=False naming the
// field and the value.
func TestPrometheusBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	srv := sourcetest.StartHTTP(t, &promtest.API{})
	promTarget(t, ns, "prom-bad", srv, "unused-token", "0")
	assertBadMetadata(t, ns, "prom-bad", `threshold "0"`)
}
