package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func mustQuantity(s string) resource.Quantity { return resource.MustParse(s) }

// TestControlPlaneIsReal proves the parts are real: a Deployment gets its
// ReplicaSet and Pods from kube-controller-manager, the kubelet stand-in
// makes them Ready, and an HPA on it is processed by the HPA controller.
func TestControlPlaneIsReal(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	if _, err := env.kube.AppsV1().Deployments(ns).Create(ctx, deployment(ns, "web", 2), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, shortWait, "a ReplicaSet with 2 ready replicas", func() (bool, error) {
		rss, err := env.kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
		if err != nil || len(rss.Items) != 1 {
			return false, err
		}
		return rss.Items[0].Status.ReadyReplicas == 2, nil
	})
	pods, err := env.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s is %s, want Running", p.Name, p.Status.Phase)
		}
	}

	hpa := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](1),
			MaxReplicas:    3,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To[int32](50)},
				},
			}},
		},
	}
	if _, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Create(ctx, hpa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// There is no metrics-server, so the controller reports that it cannot
	// get CPU metrics: proof that the HPA controller runs and wrote status.
	eventually(t, shortWait, "HPA status from the HPA controller", func() (bool, error) {
		got, err := env.kube.AutoscalingV2().HorizontalPodAutoscalers(ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return got.Status.CurrentReplicas == 2 && len(got.Status.Conditions) > 0, nil
	})
}

// TestManifestsApply checks the install manifests against the real
// apiserver with a server-side dry run (schemas, RBAC rules, APIService).
func TestManifestsApply(t *testing.T) {
	out, err := exec.Command(env.cp.Binaries.Kubectl, "--kubeconfig", env.cp.Kubeconfig, "apply", "--server-side",
		"--force-conflicts", "--dry-run=server", "-k", filepath.Join(repoRoot(), "manifests")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server -k manifests: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "deployment.apps/pushscale") {
		t.Fatalf("unexpected output:\n%s", out)
	}
}
