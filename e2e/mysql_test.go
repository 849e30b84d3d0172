package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/mysql/mariadbtest"
)

// mysqlSO is KEDA's mysql shape: host, port, username, dbName in
// metadata, the password from a TriggerAuthentication.
const mysqlSO = `
apiVersion: v1
kind: Secret
metadata:
  name: mysql-auth
stringData:
  password: %[4]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: mysql-auth
spec:
  secretTargetRef:
  - parameter: password
    name: mysql-auth
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
  - type: mysql
    metadata:
      host: 127.0.0.1
      port: "%[2]d"
      username: %[3]s
      dbName: app
      query: "SELECT count(*) FROM %[5]s"
      queryValue: "%[6]s"
    authenticationRef:
      name: mysql-auth
`

func mysqlScaledObject(name string, srv *mariadbtest.Server, password, table, queryValue string) string {
	return fmt.Sprintf(mysqlSO, name, srv.Port(), mariadbtest.User, password, table, queryValue)
}

func mysqlExec(t *testing.T, srv *mariadbtest.Server, q string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Exec(ctx, q); err != nil {
		t.Fatal(err)
	}
}

// TestMySQLScalesZeroToNAndBack: MySQL has no push; rows wake the
// Deployment at the next poll (PushHealthy=False NotSupported), more rows
// scale it 1→N through the HPA, deleting them returns it to 0, and a
// server restart in between loses no activation.
func TestMySQLScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	srv := mariadbtest.Start(t)
	mysqlExec(t, srv, "CREATE TABLE jobs (id int)")
	deploymentAt0(t, ns, "mysql-worker")
	apply(t, ns, mysqlScaledObject("mysql-worker", srv, srv.Password(), "jobs", "5"))
	if c := pushHealthyIs(t, ns, "mysql-worker", metav1.ConditionFalse, "NotSupported"); !strings.Contains(c.Message, "pollingInterval") {
		t.Errorf("PushHealthy message %q", c.Message)
	}
	eventually(t, shortWait, "Ready", func() (bool, error) {
		r := condition(t, ns, "mysql-worker", kedav1.ConditionReady)
		return r.Status == metav1.ConditionTrue, fmt.Errorf("Ready %+v", r)
	})
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	mysqlExec(t, srv, "INSERT INTO jobs VALUES (1)")
	waitReplicas(t, ns, "mysql-worker", 1, shortWait)
	mysqlExec(t, srv, "INSERT INTO jobs SELECT seq FROM seq_1_to_19")
	waitReplicas(t, ns, "mysql-worker", 4, longWait) // 20 rows / target 5
	mysqlExec(t, srv, "DELETE FROM jobs")
	waitReplicas(t, ns, "mysql-worker", 0, longWait)
	metricNamedNoSecret(t, ns, "mysql-worker", "s0-mysql-app", srv.Password())
}

// TestMySQLRefusedPassword: a wrong password is Ready=False, the external
// metric's error names username and password, the password is nowhere.
func TestMySQLRefusedPassword(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	srv := mariadbtest.Start(t)
	deploymentAt0(t, ns, "mysql-refused")
	const wrong = "wr0ng-mysql-" + "passw0rd"
	apply(t, ns, mysqlScaledObject("mysql-refused", srv, wrong, "jobs", "5"))
	eventually(t, longWait, "Ready=False naming username and password", func() (bool, error) {
		r := condition(t, ns, "mysql-refused", kedav1.ConditionReady)
		return r.Status == metav1.ConditionFalse, fmt.Errorf("Ready %+v", r)
	})
	// Ready keeps KEDA's words for a failing trigger; the external metric
	// says why (what the HPA and kubectl get).
	eventually(t, shortWait, "the external metric naming username and password", func() (bool, error) {
		raw, err := env.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces", ns, "s0-mysql-app").
			Param("labelSelector", "scaledobject.keda.sh/name=mysql-refused").DoRaw(ctx)
		msg := string(raw)
		if err != nil {
			msg += " " + err.Error()
		}
		if strings.Contains(msg, wrong) {
			t.Fatalf("the external metric's error shows the password: %s", msg)
		}
		return strings.Contains(msg, "username and password (or connectionString) refused"), fmt.Errorf("%s", msg)
	})
	noSecretShown(t, ns, "mysql-refused", wrong)
}

// TestMySQLBadMetadata: a queryValue that is no number is Ready=False
// naming it.
func TestMySQLBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	srv := mariadbtest.Start(t)
	deploymentAt0(t, ns, "mysql-bad")
	apply(t, ns, mysqlScaledObject("mysql-bad", srv, srv.Password(), "jobs", "lots"))
	eventually(t, shortWait, "Ready=False naming queryValue", func() (bool, error) {
		r := condition(t, ns, "mysql-bad", kedav1.ConditionReady)
		return r.Status == metav1.ConditionFalse && strings.Contains(r.Message, `queryValue "lots"`), fmt.Errorf("Ready %+v", r)
	})
}
