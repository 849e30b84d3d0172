package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources/postgresql/pgtest"
)

// pgSO is KEDA's postgresql shape (host, port, userName, dbName, sslmode
// in metadata, the password from a TriggerAuthentication) with pushscale's
// notifyChannel; %[7]s adds metadata lines.
const pgSO = `
apiVersion: v1
kind: Secret
metadata:
  name: pg-auth
stringData:
  password: %[4]s
---
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata:
  name: pg-auth
spec:
  secretTargetRef:
  - parameter: password
    name: pg-auth
    key: password
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
  - type: postgresql
    metadata:
      host: 127.0.0.1
      port: "%[2]d"
      userName: %[3]s
      dbName: app
      sslmode: disable
      query: "SELECT count(*) FROM %[6]s"
      targetQueryValue: "5"
%[7]s    authenticationRef:
      name: pg-auth
`

func pgScaledObject(name string, srv *pgtest.Server, password string, pollingInterval int, table, extra string) string {
	return fmt.Sprintf(pgSO, name, srv.Port(), pgtest.User, password, pollingInterval, table, extra)
}

func pgExec(t *testing.T, srv *pgtest.Server, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// TestPostgreSQLScalesZeroToNAndBack: an INSERT with a NOTIFY wakes the
// Deployment by push (pollingInterval 300 s: nothing else could within the
// test), a backlog scales it 1→N through the HPA (read every
// pollingInterval while active, lowered to 2 s for that), deleting the
// rows returns it to 0.
func TestPostgreSQLScalesZeroToNAndBack(t *testing.T) {
	ns := newNamespace(t)
	srv := pgtest.Start(t)
	pgExec(t, srv, "CREATE TABLE jobs (id serial)")
	deploymentAt0(t, ns, "pg-worker")
	apply(t, ns, pgScaledObject("pg-worker", srv, srv.Password(), 300, "jobs", "      notifyChannel: jobs\n"))
	readyAndPushed(t, ns, "pg-worker", "Subscribed")
	start := time.Now()
	pgExec(t, srv, "INSERT INTO jobs DEFAULT VALUES; NOTIFY jobs")
	waitReplicas(t, ns, "pg-worker", 1, shortWait)
	t.Logf("INSERT + NOTIFY → 1 replica: %s", time.Since(start))
	pgExec(t, srv, "INSERT INTO jobs SELECT FROM generate_series(1, 19); NOTIFY jobs")
	patchScaledObject(t, ns, "pg-worker", map[string]any{"spec": map[string]any{"pollingInterval": 2}})
	waitReplicas(t, ns, "pg-worker", 4, longWait) // 20 rows / target 5
	pgExec(t, srv, "DELETE FROM jobs")
	waitReplicas(t, ns, "pg-worker", 0, longWait)
	metricNamedNoSecret(t, ns, "pg-worker", "s0-postgresql", srv.Password())
}

// TestPostgreSQLRestartLosesNoActivation: a row inserted and notified
// right after a server restart wakes the target whether it lands before
// the gateway has LISTENed again (the read after the reconnect sees it)
// or after (the NOTIFY is delivered). The unit test
// TestNothingLostWhileDown covers a row committed with no NOTIFY while
// the LISTEN connection is down.
func TestPostgreSQLRestartLosesNoActivation(t *testing.T) {
	ns := newNamespace(t)
	srv := pgtest.Start(t)
	pgExec(t, srv, "CREATE TABLE jobs (id serial)")
	deploymentAt0(t, ns, "pg-restart")
	apply(t, ns, pgScaledObject("pg-restart", srv, srv.Password(), 300, "jobs", "      notifyChannel: jobs\n"))
	pushHealthyIs(t, ns, "pg-restart", metav1.ConditionTrue, "Subscribed")
	srv.Stop()
	pushHealthyIs(t, ns, "pg-restart", metav1.ConditionFalse, "SubscriptionLost")
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	pgExec(t, srv, "INSERT INTO jobs DEFAULT VALUES; NOTIFY jobs")
	waitReplicas(t, ns, "pg-restart", 1, longWait)
}

// TestPostgreSQLWithoutChannelIsPolled: without notifyChannel the query
// is read every pollingInterval, as KEDA does: PushHealthy=False
// NotSupported.
func TestPostgreSQLWithoutChannelIsPolled(t *testing.T) {
	ns := newNamespace(t)
	srv := pgtest.Start(t)
	pgExec(t, srv, "CREATE TABLE jobs (id serial)")
	deploymentAt0(t, ns, "pg-polled")
	apply(t, ns, pgScaledObject("pg-polled", srv, srv.Password(), 1, "jobs", ""))
	if c := pushHealthyIs(t, ns, "pg-polled", metav1.ConditionFalse, "NotSupported"); !strings.Contains(c.Message, "notifyChannel") {
		t.Errorf("PushHealthy message %q does not say why", c.Message)
	}
	pgExec(t, srv, "INSERT INTO jobs DEFAULT VALUES")
	waitReplicas(t, ns, "pg-polled", 1, longWait)
}

// TestPostgreSQLRefusedPassword: a wrong password is Ready=False and
// PushHealthy=False naming userName and password, with the password
// nowhere in status, Events or logs.
func TestPostgreSQLRefusedPassword(t *testing.T) {
	ns := newNamespace(t)
	srv := pgtest.Start(t)
	deploymentAt0(t, ns, "pg-refused")
	const wrong = "wr0ng-pg-" + "passw0rd"
	apply(t, ns, pgScaledObject("pg-refused", srv, wrong, 1, "jobs", "      notifyChannel: jobs\n"))
	eventually(t, longWait, "Ready=False and PushHealthy=False naming userName and password", func() (bool, error) {
		r := condition(t, ns, "pg-refused", kedav1.ConditionReady)
		p := condition(t, ns, "pg-refused", kedav1.ConditionPushHealthy)
		return r.Status == metav1.ConditionFalse && p.Status == metav1.ConditionFalse && p.Reason == "SubscriptionLost" &&
			strings.Contains(p.Message, "userName and password"), fmt.Errorf("Ready %+v PushHealthy %+v", r, p)
	})
	noSecretShown(t, ns, "pg-refused", wrong)
}

// TestPostgreSQLBadMetadata: metadata KEDA refuses is Ready=False naming
// the field.
func TestPostgreSQLBadMetadata(t *testing.T) {
	ns := newNamespace(t)
	srv := pgtest.Start(t)
	deploymentAt0(t, ns, "pg-bad")
	so := pgScaledObject("pg-bad", srv, srv.Password(), 1, "jobs", "      sslmode: sometimes\n")
	so = strings.Replace(so, "      sslmode: disable\n", "", 1)
	apply(t, ns, so)
	eventually(t, shortWait, "Ready=False naming sslmode", func() (bool, error) {
		r := condition(t, ns, "pg-bad", kedav1.ConditionReady)
		return r.Status == metav1.ConditionFalse && strings.Contains(r.Message, `sslmode "sometimes"`), fmt.Errorf("Ready %+v", r)
	})
}
