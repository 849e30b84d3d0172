package controlplane

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

var apiServiceGVR = schema.GroupVersionResource{Group: "apiregistration.k8s.io", Version: "v1", Resource: "apiservices"}

// AggregatedAPI describes an API group served by a process on this host.
type AggregatedAPI struct {
	Group, Version string
	// Namespace and Service name the ExternalName Service created for it.
	Namespace, Service string
	// Port is the loopback port the process serves HTTPS on.
	Port int
}

// ServeAggregatedAPI makes the apiserver proxy api's group to a process on
// this host: an ExternalName Service pointing at localhost (Endpoints with
// loopback addresses are refused) and an APIService with
// insecureSkipTLSVerify. Existing objects are replaced. It waits until the
// APIService is Available or timeout passes.
func ServeAggregatedAPI(ctx context.Context, cfg *rest.Config, api AggregatedAPI, timeout time.Duration) error {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("controlplane: %w", err)
	}
	_, err = kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: api.Namespace}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("controlplane: create namespace %s: %w", api.Namespace, err)
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: api.Service, Namespace: api.Namespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(api.Port)}},
		},
	}
	_ = kube.CoreV1().Services(api.Namespace).Delete(ctx, api.Service, metav1.DeleteOptions{})
	if _, err := kube.CoreV1().Services(api.Namespace).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("controlplane: create service %s/%s: %w", api.Namespace, api.Service, err)
	}
	name := api.Version + "." + api.Group
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiregistration.k8s.io/v1",
		"kind":       "APIService",
		"metadata":   map[string]any{"name": name},
		"spec": map[string]any{
			"group":                 api.Group,
			"version":               api.Version,
			"groupPriorityMinimum":  int64(100),
			"versionPriority":       int64(100),
			"insecureSkipTLSVerify": true,
			"service": map[string]any{
				"namespace": api.Namespace,
				"name":      api.Service,
				"port":      int64(api.Port),
			},
		},
	}}
	_ = dyn.Resource(apiServiceGVR).Delete(ctx, name, metav1.DeleteOptions{})
	if _, err := dyn.Resource(apiServiceGVR).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("controlplane: create APIService %s: %w", name, err)
	}
	var last string
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		got, err := dyn.Resource(apiServiceGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
		for _, c := range conds {
			m, _ := c.(map[string]any)
			if m["type"] == "Available" {
				if m["status"] == "True" {
					return true, nil
				}
				last = fmt.Sprintf("%v: %v", m["reason"], m["message"])
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("controlplane: APIService %s not Available after %s (last: %s): %w", name, timeout, last, err)
	}
	return nil
}
