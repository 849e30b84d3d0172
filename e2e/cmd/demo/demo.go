package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"

	"github.com/pushscale/pushscale/e2e/controlplane"
)

const webhookScaledObject = `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata:
  name: worker
  namespace: demo
spec:
  scaleTargetRef:
    name: worker
  minReplicaCount: 0
  maxReplicaCount: 10
  cooldownPeriod: 15
  triggers:
  - type: webhook
    metadata:
      allowUnauthenticated: "true"
      stream: jobs
      targetValue: "5"
`

type demo struct {
	cp       *controlplane.ControlPlane
	kube     kubernetes.Interface
	say      func(string, ...any)
	changes  chan struct{}
	lastPost time.Time
}

func newDemo(ctx context.Context, cp *controlplane.ControlPlane, say func(string, ...any)) (*demo, error) {
	kube, err := kubernetes.NewForConfig(cp.RESTConfig())
	if err != nil {
		return nil, err
	}
	return &demo{cp: cp, kube: kube, say: say, changes: make(chan struct{}, 1)}, nil
}

// createNamespace creates the demo namespace and waits until it takes Pods.
func (d *demo) createNamespace(ctx context.Context) error {
	if _, err := d.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if _, err := d.kube.CoreV1().ServiceAccounts(namespace).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		if time.Since(start) > time.Minute {
			return fmt.Errorf("namespace %s has no default ServiceAccount after a minute", namespace)
		}
	}
}

// apply creates Deployment name at 0 replicas and applies manifest (its
// ScaledObject and whatever goes with it).
func (d *demo) apply(ctx context.Context, name, manifest string) error {
	labels := map[string]string{"app": name}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "registry.invalid/demo/" + name + ":1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
			},
		},
	}
	if _, err := d.kube.AppsV1().Deployments(namespace).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, d.cp.Binaries.Kubectl, "--kubeconfig", d.cp.Kubeconfig, "apply", "-f", "-")
	cmd.Stdin = strings.NewReader(manifest)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply: %v: %s", err, out)
	}
	return nil
}

// watch prints every change of a Deployment's spec.replicas in the demo
// namespace.
func (d *demo) watch(ctx context.Context) {
	last := map[string]int32{}
	for ctx.Err() == nil {
		w, err := d.kube.AppsV1().Deployments(namespace).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			dep, ok := ev.Object.(*appsv1.Deployment)
			if !ok || ev.Type == watch.Deleted || dep.Spec.Replicas == nil {
				continue
			}
			prev, seen := last[dep.Name]
			if seen && prev == *dep.Spec.Replicas {
				continue
			}
			if seen {
				d.say("  %-8s replicas %d → %d   (%s after the last event)", dep.Name, prev, *dep.Spec.Replicas, time.Since(d.lastPost).Round(time.Millisecond))
			}
			last[dep.Name] = *dep.Spec.Replicas
			select {
			case d.changes <- struct{}{}:
			default:
			}
		}
		w.Stop()
	}
}

// step is one scripted event and the replica count it leads to.
type step struct {
	what    string
	do      func(context.Context) error
	target  string
	want    int32
	timeout time.Duration
}

// run plays steps in order.
func (d *demo) run(ctx context.Context, steps []step) error {
	for _, s := range steps {
		d.say("%s", s.what)
		d.lastPost = time.Now()
		if err := s.do(ctx); err != nil {
			return err
		}
		if err := d.await(ctx, s.target, s.want, s.timeout); err != nil {
			return err
		}
	}
	return nil
}

func (d *demo) post(ctx context.Context, webhook, body string) error {
	url := fmt.Sprintf("%s/v1/namespaces/%s/streams/%s", webhook, namespace, stream)
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusAccepted {
			return nil
		}
		// 404 until the gateway has seen the ScaledObject.
		if resp.StatusCode != http.StatusNotFound || time.Since(start) > time.Minute {
			return fmt.Errorf("POST %s: %s %s", body, resp.Status, b)
		}
	}
}

func (d *demo) await(ctx context.Context, name string, want int32, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		dep, err := d.kube.AppsV1().Deployments(namespace).Get(ctx, name, metav1.GetOptions{})
		if err == nil && dep.Spec.Replicas != nil && *dep.Spec.Replicas == want {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("Deployment %s did not reach %d replicas within %s", name, want, timeout)
		case <-d.changes:
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func waitReady(ctx context.Context, url string, done <-chan error) error {
	for start := time.Now(); time.Since(start) < 2*time.Minute; {
		select {
		case err := <-done:
			return fmt.Errorf("gateway exited: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return fmt.Errorf("gateway not ready after 2 minutes")
}
