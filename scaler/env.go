package scaler

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// needsEnv reports whether any trigger of so reads the scale target's
// environment: a *FromEnv metadata key, or a TriggerAuthentication env.
func (c *Controller) needsEnv(so *kedav1.ScaledObject) bool {
	for _, tr := range so.Spec.Triggers {
		for k := range tr.Metadata {
			if strings.HasSuffix(k, "FromEnv") {
				return true
			}
		}
		if spec := c.authSpec(so.Namespace, tr.AuthenticationRef); spec != nil && len(spec.Env) > 0 {
			return true
		}
	}
	return false
}

// targetEnv returns the environment of every container of the scale
// target's pod template, by container name, with value, valueFrom
// (Secrets, ConfigMaps) and envFrom resolved as the kubelet would (later
// entries win). Kinds without spec.template have no environment.
func (c *Controller) targetEnv(ctx context.Context, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource) (map[string]map[string]string, []string, error) {
	gvr := gvkr.GroupVersionKind().GroupVersion().WithResource(gvkr.Resource)
	obj, err := c.dyn.Resource(gvr).Namespace(so.Namespace).Get(ctx, so.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("read scale target %s %s for its environment: %w", gvkr.Kind, so.Spec.ScaleTargetRef.Name, notFoundOnly(err))
	}
	raw, found, _ := unstructured.NestedMap(obj.Object, "spec", "template")
	if !found {
		return nil, nil, nil
	}
	var tmpl corev1.PodTemplateSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
		return nil, nil, fmt.Errorf("scale target %s: spec.template: %w", so.Spec.ScaleTargetRef.Name, err)
	}
	envs := map[string]map[string]string{}
	var order []string
	for _, ctr := range tmpl.Spec.Containers {
		env, err := c.containerEnv(ctx, so.Namespace, ctr)
		if err != nil {
			return nil, nil, err
		}
		envs[ctr.Name] = env
		order = append(order, ctr.Name)
	}
	return envs, order, nil
}

func (c *Controller) containerEnv(ctx context.Context, ns string, ctr corev1.Container) (map[string]string, error) {
	env := map[string]string{}
	for _, from := range ctr.EnvFrom {
		switch {
		case from.SecretRef != nil:
			s, err := c.kube.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
			if err != nil {
				if from.SecretRef.Optional != nil && *from.SecretRef.Optional {
					continue
				}
				return nil, fmt.Errorf("container %s envFrom secret %s: %w", ctr.Name, from.SecretRef.Name, notFoundOnly(err))
			}
			for k, v := range s.Data {
				env[from.Prefix+k] = string(v)
			}
		case from.ConfigMapRef != nil:
			cm, err := c.kube.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
			if err != nil {
				if from.ConfigMapRef.Optional != nil && *from.ConfigMapRef.Optional {
					continue
				}
				return nil, fmt.Errorf("container %s envFrom configMap %s: %w", ctr.Name, from.ConfigMapRef.Name, notFoundOnly(err))
			}
			for k, v := range cm.Data {
				env[from.Prefix+k] = v
			}
		}
	}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := c.kube.CoreV1().Secrets(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err == nil {
				if v, ok := s.Data[ref.Key]; ok {
					env[e.Name] = string(v)
					continue
				}
			}
			if ref.Optional == nil || !*ref.Optional {
				return nil, fmt.Errorf("container %s env %s: secret %s key %q not found", ctr.Name, e.Name, ref.Name, ref.Key)
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, err := c.kube.CoreV1().ConfigMaps(ns).Get(ctx, ref.Name, metav1.GetOptions{})
			if err == nil {
				if v, ok := cm.Data[ref.Key]; ok {
					env[e.Name] = v
					continue
				}
			}
			if ref.Optional == nil || !*ref.Optional {
				return nil, fmt.Errorf("container %s env %s: configMap %s key %q not found", ctr.Name, e.Name, ref.Name, ref.Key)
			}
		}
	}
	return env, nil
}

// pickContainer returns the env of the named container, else of the
// first one (KEDA's envSourceContainerName rule).
func pickContainer(envs map[string]map[string]string, order []string, name string) (map[string]string, error) {
	if name != "" {
		env, ok := envs[name]
		if !ok {
			return nil, fmt.Errorf("spec.scaleTargetRef.envSourceContainerName %q: no such container", name)
		}
		return env, nil
	}
	if len(order) == 0 {
		return map[string]string{}, nil
	}
	return envs[order[0]], nil
}
