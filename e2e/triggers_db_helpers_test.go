package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// deploymentAt0 creates Deployment ns/name with no replicas.
func deploymentAt0(t *testing.T, ns, name string) {
	t.Helper()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(context.Background(), deployment(ns, name, 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// noSecretShown fails t when secret appears in ScaledObject ns/name's
// status, the Events of ns or the gateway's logs.
func noSecretShown(t *testing.T, ns, name, secret string) {
	t.Helper()
	so := scaledObject(t, ns, name)
	events, err := env.kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dump := fmt.Sprintf("%+v %+v %s", so.Status, events.Items, gwLogs.String()); strings.Contains(dump, secret) {
		t.Error("the password appears in the status, an Event or the gateway's logs")
	}
}
