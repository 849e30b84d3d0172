package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// assertMetricError asks the external metrics API (through the aggregator,
// as the HPA does) for metric of ScaledObject ns/name, and fails t unless
// the answer is an error that names field and does not show secret.
func assertMetricError(t *testing.T, ns, name, metric, field, secret string) {
	t.Helper()
	var msg string
	eventually(t, shortWait, "the metrics API to answer an error naming "+field, func() (bool, error) {
		raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, metric).
			Param("labelSelector", "scaledobject.keda.sh/name="+name).DoRaw(context.Background())
		if err == nil {
			return false, fmt.Errorf("answered %s", raw)
		}
		msg = err.Error() + string(raw)
		return strings.Contains(msg, field), fmt.Errorf("error %s", msg)
	})
	if strings.Contains(msg, secret) {
		t.Errorf("the metrics API's error shows the secret: %s", msg)
	}
}
