package e2e

import (
	"fmt"
	"testing"

	"github.com/pushscale/pushscale/sources/metricsapi/metricsapitest"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// metricsAPISO is KEDA's metrics-api shape with basic credentials from a
// TriggerAuthentication.
const metricsAPISO = `
apiVersion: v1
kind: Secret
metadata:
  name: api-auth
stringData:
  username: reader
  password: %[3]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: api-auth
spec:
  secretTargetRef:
  - parameter: username
    name: api-auth
    key: username
  - parameter: password
    name: api-auth
    key: password
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
  - type: metrics-api
    metadata:
      url: %[2]s/api/stats
      format: %[4]s
      valueLocation: queue.pending
      targetValue: "2"
      authMode: basic
    authenticationRef:
      name: api-auth
`

// apiTarget creates the Deployment name and its ScaledObject reading srv.
func apiTarget(t *testing.T, ns, name string, srv *sourcetest.HTTPServer, password, format string) {
	t.Helper()
	scaledTarget(t, ns, name, fmt.Sprintf(metricsAPISO, name, srv.URL(), password, format))
}

// TestMetricsAPIScalesZeroToNAndBack: a value above 0 wakes the target
// (polled every pollingInterval), a larger one scales it 1→N through the
// HPA, 0 returns it to 0.
func TestMetricsAPIScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	const password = "m3trics-e2e-passw0rd"
	api := &metricsapitest.API{User: "reader", Password: password}
	srv := sourcetest.StartHTTP(t, api)
	apiTarget(t, ns, "api-app", srv, password, "json")
	pollsZeroToNAndBack(t, ns, "api-app", api.Set, "s0-metric-api-queue-pending", password)
}

// TestMetricsAPIRestartLosesNoActivation: work that appears while the
// endpoint is down wakes the target once it answers again on the same
// port.
func TestMetricsAPIRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	api := &metricsapitest.API{User: "reader", Password: "pw-restart"}
	srv := sourcetest.StartHTTP(t, api)
	apiTarget(t, ns, "api-restart", srv, "pw-restart", "json")
	restartLosesNoActivation(t, ns, "api-restart", srv, api.Set)
}

// TestMetricsAPIRefusedCredentials: a wrong password is Ready=False, with
// the password nowhere in status, Events or logs, and the refusal naming
// the username and password parameters where the metric is asked for.
func TestMetricsAPIRefusedCredentials(t *testing.T) {
	ns := newNamespace(t)
	api := &metricsapitest.API{User: "reader", Password: "the-right-passw0rd"}
	api.Set(5)
	srv := sourcetest.StartHTTP(t, api)
	const wrong = "wr0ng-m3trics-passw0rd"
	apiTarget(t, ns, "api-refused", srv, wrong, "json")
	assertRefused(t, ns, "api-refused", api.Refusals, wrong, "s0-metric-api-queue-pending", "username and password")
}

// TestMetricsAPIBadMetadata: format xml (which KEDA fails to read) is
// Ready=False naming the field and the value.
func TestMetricsAPIBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	srv := sourcetest.StartHTTP(t, &metricsapitest.API{})
	apiTarget(t, ns, "api-bad", srv, "unused-passw0rd", "xml")
	assertBadMetadata(t, ns, "api-bad", `format "xml"`)
}
