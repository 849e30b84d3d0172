package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/e2e/controlplane"
)

// TestInstallKustomize installs manifests/ on a control plane of its own as
// a user would (kubectl kustomize, server-side apply with strict
// validation), runs the gateway with nothing but the manifests'
// ServiceAccount identity, and checks what the install promises: Pod
// Security "restricted" admits the Deployment; the gateway puts its CA into
// the APIService and the admission webhook, and the apiserver verifies it
// (activation, HPA 1→N through the APIService, admission refusals); the role
// refuses what the gateway must not do; and a short certificate lifetime
// rotates the served certificates without a restart.
func TestInstallKustomize(t *testing.T) {
	c := newInstallCluster(t)
	ctx := context.Background()
	ports, err := controlplane.FreePorts(4)
	if err != nil {
		t.Fatal(err)
	}

	objs := c.kustomize(t, filepath.Join(repoRoot(), "manifests"))
	pointAtLoopback(t, objs, ports[2], ports[3])
	c.applyServerSide(t, objs, false)

	var template corev1.PodSpec
	for _, o := range objs {
		if o.GetKind() == "Deployment" && o.GetName() == "pushscale" {
			spec, _, _ := unstructured.NestedMap(o.Object, "spec", "template", "spec")
			must(t, runtime.DefaultUnstructuredConverter.FromUnstructured(spec, &template))
		}
	}
	if len(template.Containers) == 0 {
		t.Fatal("the render has no pushscale Deployment")
	}

	t.Run("PodSecurityRestricted", func(t *testing.T) {
		if err := c.podSecurityAdmits(ctx, installNamespace, template); err != nil {
			t.Fatalf("the gateway's Pod is refused in its namespace: %v", err)
		}
		// The namespace does enforce "restricted": a root Pod is refused.
		root := *template.DeepCopy()
		root.SecurityContext = nil
		root.Containers[0].SecurityContext = nil
		err := c.podSecurityAdmits(ctx, installNamespace, root)
		if err == nil || !strings.Contains(err.Error(), "violates PodSecurity") {
			t.Fatalf("a Pod without the security context was not refused by Pod Security: %v", err)
		}
		// And the ReplicaSet controller's own Pod is admitted.
		eventually(t, longWait, "the Deployment's Pod to be created", func() (bool, error) {
			pods, err := c.kube.CoreV1().Pods(installNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=pushscale"})
			return err == nil && len(pods.Items) > 0, err
		})
	})

	kubeconfig := c.serviceAccountKubeconfig(t, installNamespace, "pushscale")
	// The gateway binary as its Deployment runs it, with its
	// ServiceAccount's token, 90-second certificates (renewed at 60 s) and
	// the debug log this test searches for secrets.
	g := startInstalledGateway(t, buildGateway(t), template.Containers[0], ports,
		"--kubeconfig="+kubeconfig, "--certificate-lifetime=90s", "--log-level=debug")

	eventually(t, longWait, "the APIService to be Available, its certificate verified with the injected caBundle", func() (bool, error) {
		ok, why, err := c.apiServiceAvailable(ctx, "v1beta1.external.metrics.k8s.io")
		if err != nil {
			return false, err
		}
		return ok, fmt.Errorf("%s", why)
	})
	secret, err := c.kube.CoreV1().Secrets(installNamespace).Get(ctx, "pushscale-certificates", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	apiSvc, err := c.dyn.Resource(apiServiceGVR).Get(ctx, "v1beta1.external.metrics.k8s.io", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if insecure, _, _ := unstructured.NestedBool(apiSvc.Object, "spec", "insecureSkipTLSVerify"); insecure {
		t.Fatal("the APIService skips TLS verification")
	}
	caBundle, _, _ := unstructured.NestedString(apiSvc.Object, "spec", "caBundle")
	if want := string(secret.Data["ca.crt"]); caBundle == "" || !strings.Contains(want, "BEGIN CERTIFICATE") {
		t.Fatalf("caBundle %d bytes, Secret ca.crt %d bytes", len(caBundle), len(want))
	}
	leaf := parseCertificate(t, secret.Data["tls.crt"])
	if !slices.Contains(leaf.DNSNames, "pushscale-metrics-api.pushscale-system.svc") || !slices.Contains(leaf.DNSNames, "pushscale-admission.pushscale-system.svc") {
		t.Fatalf("the serving certificate's names %v lack the Services' <service>.<namespace>.svc", leaf.DNSNames)
	}

	// A workload of a tenant namespace, scaled through the install.
	ns := "shop"
	if _, err := c.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "the default ServiceAccount of "+ns, func() (bool, error) {
		_, err := c.kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	c.kubelet.Manage(ns)
	if _, err := c.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "worker", 0), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("Admission", func(t *testing.T) {
		// failurePolicy is Ignore: only a webhook the apiserver reached
		// over verified TLS can refuse.
		eventually(t, longWait, "the admission webhook to refuse idleReplicaCount 3 with minReplicaCount 2", func() (bool, error) {
			err := c.createScaledObject(ctx, ns, "invalid", "worker", "idleReplicaCount: 3\n  minReplicaCount: 2")
			if err == nil {
				_ = c.dyn.Resource(resources["ScaledObject"]).Namespace(ns).Delete(ctx, "invalid", metav1.DeleteOptions{})
				return false, fmt.Errorf("admitted")
			}
			return strings.Contains(err.Error(), "spec.idleReplicaCount 3: must be less than minReplicaCount 2"), err
		})
	})

	t.Run("ScaleZeroToNThroughTheAPIService", func(t *testing.T) {
		if err := c.createScaledObject(ctx, ns, "worker", "worker", "minReplicaCount: 0"); err != nil {
			t.Fatal(err)
		}
		eventually(t, longWait, "ScaledObject worker Ready", func() (bool, error) {
			return c.scaledObjectReady(ctx, ns, "worker")
		})
		g.postLevel(t, ns, "jobs", 3)
		c.waitReplicas(t, ns, "worker", 1, longWait)
		// 20 at a target of 5 per replica: the HPA reads the metric
		// through the APIService and asks for 4.
		g.postLevel(t, ns, "jobs", 20)
		c.waitReplicas(t, ns, "worker", 4, longWait)
	})

	t.Run("LeadsWithTheRole", func(t *testing.T) {
		// Leader election is on by default: the role lets the gateway
		// create and renew its Lease, and it publishes its webhook address.
		eventually(t, shortWait, "the gateway to lead", func() (bool, error) {
			resp, err := http.Get(g.metrics + "/metrics")
			if err != nil {
				return false, err
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return strings.Contains(string(b), "\npushscale_leader 1\n"), fmt.Errorf("pushscale_leader is not 1")
		})
		lease, err := c.kube.CoordinationV1().Leases(installNamespace).Get(ctx, "pushscale-leader", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if addr := lease.Annotations["pushscale.io/webhook-address"]; addr != strings.TrimPrefix(g.webhook, "http://") {
			t.Fatalf("the Lease publishes webhook address %q, want %s", addr, g.webhook)
		}
	})

	t.Run("RoleRefusesTheRest", func(t *testing.T) {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		sa := kubernetes.NewForConfigOrDie(cfg)
		checks := map[string]error{}
		_, checks["get a Secret by name"] = sa.CoreV1().Secrets(ns).Get(ctx, "anything", metav1.GetOptions{})
		_, checks["update a Deployment"] = sa.AppsV1().Deployments(ns).Update(ctx, deployment(ns, "worker", 9), metav1.UpdateOptions{})
		checks["delete a namespace"] = sa.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}})
		_, checks["create a Pod"] = sa.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: template}, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		_, checks["read another Secret of its own namespace"] = sa.CoreV1().Secrets(installNamespace).Get(ctx, "someone-elses", metav1.GetOptions{})
		for what, err := range checks {
			if !apierrors.IsForbidden(err) {
				t.Errorf("the gateway's role must not %s: got %v", what, err)
			}
		}
		// ...while what it needs is allowed (the rest of the test proves
		// scale, HPAs, status and Secrets of its own).
		if _, err := sa.CoreV1().Secrets(installNamespace).Get(ctx, "pushscale-certificates", metav1.GetOptions{}); err != nil {
			t.Errorf("its own certificates Secret: %v", err)
		}
	})

	t.Run("CertificateRotation", func(t *testing.T) {
		before := leaf.SerialNumber
		var rotated []byte
		eventually(t, longWait, "the serving certificate to be rotated (lifetime 90 s, renewed with a third left)", func() (bool, error) {
			s, err := c.kube.CoreV1().Secrets(installNamespace).Get(ctx, "pushscale-certificates", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			rotated = s.Data["tls.crt"]
			return parseCertificate(t, rotated).SerialNumber.Cmp(before) != 0, nil
		})
		want := parseCertificate(t, rotated).SerialNumber
		for _, port := range []int{g.metricsAPIPort, g.admissionPort} {
			eventually(t, shortWait, fmt.Sprintf("port %d to serve the new certificate without a restart", port), func() (bool, error) {
				got, err := servedCertificate(port)
				if err != nil {
					return false, err
				}
				return got.SerialNumber.Cmp(want) == 0, fmt.Errorf("serving serial %v, want %v", got.SerialNumber, want)
			})
		}
		// The apiserver still verifies both.
		eventually(t, longWait, "the external metric read through the aggregator after the rotation", func() (bool, error) {
			_, err := c.kube.CoreV1().RESTClient().Get().AbsPath("/apis/external.metrics.k8s.io/v1beta1/namespaces/"+ns+"/s0-webhook-jobs").
				Param("labelSelector", "scaledobject.keda.sh/name=worker").DoRaw(ctx)
			return err == nil, err
		})
		eventually(t, longWait, "the admission webhook to refuse after the rotation", func() (bool, error) {
			err := c.createScaledObject(ctx, ns, "invalid-after", "worker", "idleReplicaCount: 3\n  minReplicaCount: 2")
			if err == nil {
				_ = c.dyn.Resource(resources["ScaledObject"]).Namespace(ns).Delete(ctx, "invalid-after", metav1.DeleteOptions{})
				return false, fmt.Errorf("admitted")
			}
			return strings.Contains(err.Error(), "must be less than minReplicaCount"), err
		})
		if key := secretKeyBody(rotated); key != "" && strings.Contains(g.logs.String(), key) {
			t.Fatal("the gateway logged certificate material")
		}
	})

	t.Run("OverlaysAndChartApply", func(t *testing.T) {
		// cert-manager and the Prometheus Operator are not installed:
		// hand-written stand-ins of their CRDs take their place.
		standins, err := os.ReadFile(filepath.Join(repoRoot(), "e2e", "testdata", "install", "standin-crds.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		c.applyServerSide(t, decodeObjects(t, standins), false)
		c.kubectl(t, nil, "wait", "--for=condition=Established", "--timeout=60s",
			"crd/certificates.cert-manager.io", "crd/issuers.cert-manager.io", "crd/servicemonitors.monitoring.coreos.com",
			"crd/podmonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com")
		renders := map[string][]*unstructured.Unstructured{
			"manifests/overlays/cert-manager": c.kustomize(t, filepath.Join(repoRoot(), "manifests", "overlays", "cert-manager")),
			"manifests/monitoring":            c.kustomize(t, filepath.Join(repoRoot(), "manifests", "monitoring")),
		}
		for _, golden := range []string{"default.yaml", "all.yaml"} {
			data, err := os.ReadFile(filepath.Join(repoRoot(), "charts", "pushscale", "test", "testdata", golden))
			if err != nil {
				t.Fatal(err)
			}
			renders["chart "+golden] = decodeObjects(t, data)
		}
		for name, objs := range renders {
			if len(objs) == 0 {
				t.Errorf("%s renders nothing", name)
				continue
			}
			out := c.applyServerSide(t, objs, true)
			t.Logf("%s: %d objects accepted (server dry run)", name, strings.Count(out, "serverside-applied"))
		}
	})

	t.Run("NoSecretInLogs", func(t *testing.T) {
		s, err := c.kube.CoreV1().Secrets(installNamespace).Get(ctx, "pushscale-certificates", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"tls.key", "ca.key"} {
			if body := secretKeyBody(s.Data[k]); body != "" && strings.Contains(g.logs.String(), body) {
				t.Errorf("the gateway logged its %s", k)
			}
		}
	})
}

// secretKeyBody returns a line from the middle of a PEM block, enough to
// recognise it in logs.
func secretKeyBody(pemData []byte) string {
	lines := strings.Split(strings.TrimSpace(string(pemData)), "\n")
	if len(lines) < 3 {
		return ""
	}
	return lines[1]
}

// createScaledObject creates a webhook ScaledObject on target with the
// extra spec lines.
func (c *installCluster) createScaledObject(ctx context.Context, ns, name, target, extra string) error {
	manifest := fmt.Sprintf(`
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: %s}
spec:
  scaleTargetRef: {name: %s}
  maxReplicaCount: 10
  %s
  triggers:
  - type: webhook
    metadata: {allowUnauthenticated: "true", stream: jobs, targetValue: "5"}
`, name, target, extra)
	var obj unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(manifest), &obj.Object); err != nil {
		return err
	}
	_, err := c.dyn.Resource(resources["ScaledObject"]).Namespace(ns).Create(ctx, &obj, metav1.CreateOptions{})
	return err
}

func (c *installCluster) scaledObjectReady(ctx context.Context, ns, name string) (bool, error) {
	u, err := c.dyn.Resource(resources["ScaledObject"]).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	var so kedav1.ScaledObject
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &so); err != nil {
		return false, err
	}
	for _, cond := range so.Status.Conditions {
		if cond.Type == kedav1.ConditionReady {
			return cond.Status == metav1.ConditionTrue, fmt.Errorf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
		}
	}
	return false, fmt.Errorf("no Ready condition")
}

func (c *installCluster) waitReplicas(t *testing.T, ns, name string, want int32, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%s/%s at %d replicas", ns, name, want), func() (bool, error) {
		d, err := c.kube.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Spec.Replicas != nil && *d.Spec.Replicas == want, fmt.Errorf("spec.replicas %v", *d.Spec.Replicas)
	})
}
