package scaler

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler/refcache"
)

// envNames returns the names of the scale target's environment variables
// that the triggers (of an object in namespace ns) read: the values of
// *FromEnv metadata keys and the names of their TriggerAuthentications' env
// entries; nil when none. Only these are resolved, so a container's other
// variables (thousands of secretKeyRefs, say) cost nothing.
func (c *Controller) envNames(ns string, triggers []kedav1.ScaleTrigger) map[string]bool {
	var names map[string]bool
	add := func(n string) {
		if names == nil {
			names = map[string]bool{}
		}
		names[n] = true
	}
	for _, tr := range triggers {
		for k, v := range tr.Metadata {
			if strings.HasSuffix(k, "FromEnv") && v != "" {
				add(v)
			}
		}
		if spec := c.authSpec(ns, tr.AuthenticationRef); spec != nil {
			for _, e := range spec.Env {
				add(e.Name)
			}
		}
	}
	return names
}

// targetEnv returns the variables named in names of every container of
// the pod template (of an object in namespace ns), by container name, with
// value, valueFrom (Secrets, ConfigMaps) and envFrom resolved as the
// kubelet would (later entries win). Kinds without spec.template have no
// environment. Secrets and ConfigMaps are read through rd (from memory,
// and watched), only those the named variables need.
func targetEnv(ctx context.Context, rd *refcache.Reader, ns string, template podTemplateFunc, names map[string]bool) (map[string]map[string]string, []string, error) {
	tmpl, err := template()
	if err != nil || tmpl == nil {
		return nil, nil, err
	}
	envs := map[string]map[string]string{}
	var order []string
	for _, ctr := range tmpl.Spec.Containers {
		env, err := containerEnv(ctx, rd, ns, ctr, names)
		if err != nil {
			return nil, nil, err
		}
		envs[ctr.Name] = env
		order = append(order, ctr.Name)
	}
	return envs, order, nil
}

func containerEnv(ctx context.Context, rd *refcache.Reader, ns string, ctr corev1.Container, names map[string]bool) (map[string]string, error) {
	env := map[string]string{}
	// envFrom is read only for a name no env entry sets: env entries win.
	explicit := map[string]bool{}
	for _, e := range ctr.Env {
		explicit[e.Name] = true
	}
	fromNeeded := false
	for n := range names {
		fromNeeded = fromNeeded || !explicit[n]
	}
	for _, from := range ctr.EnvFrom {
		if !fromNeeded {
			break
		}
		switch {
		case from.SecretRef != nil:
			s, err := rd.Secret(ctx, ns, from.SecretRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.SecretRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("container %s envFrom secret %s: %w", ctr.Name, from.SecretRef.Name, notFoundOnly(err))
			}
			for k, v := range s.Data {
				if names[from.Prefix+k] {
					env[from.Prefix+k] = string(v)
				}
			}
		case from.ConfigMapRef != nil:
			cm, err := rd.ConfigMap(ctx, ns, from.ConfigMapRef.Name)
			if err != nil {
				if apierrors.IsNotFound(err) && isTrue(from.ConfigMapRef.Optional) {
					continue
				}
				return nil, fmt.Errorf("container %s envFrom configMap %s: %w", ctr.Name, from.ConfigMapRef.Name, notFoundOnly(err))
			}
			for k, v := range cm.Data {
				if names[from.Prefix+k] {
					env[from.Prefix+k] = v
				}
			}
		}
	}
	for _, e := range ctr.Env {
		if !names[e.Name] {
			continue
		}
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			ref := e.ValueFrom.SecretKeyRef
			s, err := rd.Secret(ctx, ns, ref.Name)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("container %s env %s: secret %s: %w", ctr.Name, e.Name, ref.Name, err)
			}
			if err == nil {
				if v, ok := s.Data[ref.Key]; ok {
					env[e.Name] = string(v)
					continue
				}
			}
			if !isTrue(ref.Optional) {
				return nil, fmt.Errorf("container %s env %s: secret %s key %q not found", ctr.Name, e.Name, ref.Name, ref.Key)
			}
		case e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			cm, err := rd.ConfigMap(ctx, ns, ref.Name)
			if err != nil && !apierrors.IsNotFound(err) {
				return nil, fmt.Errorf("container %s env %s: configMap %s: %w", ctr.Name, e.Name, ref.Name, err)
			}
			if err == nil {
				if v, ok := cm.Data[ref.Key]; ok {
					env[e.Name] = v
					continue
				}
			}
			if !isTrue(ref.Optional) {
				return nil, fmt.Errorf("container %s env %s: configMap %s key %q not found", ctr.Name, e.Name, ref.Name, ref.Key)
			}
		}
	}
	return env, nil
}

func isTrue(b *bool) bool { return b != nil && *b }

// pickContainer returns the env of the named container, else of the
// first one (KEDA's envSourceContainerName rule); field is where the name
// was read, for the error.
func pickContainer(envs map[string]map[string]string, order []string, field, name string) (map[string]string, error) {
	if name != "" {
		env, ok := envs[name]
		if !ok {
			return nil, fmt.Errorf("%s %q: no such container", field, name)
		}
		return env, nil
	}
	if len(order) == 0 {
		return map[string]string{}, nil
	}
	return envs[order[0]], nil
}

// resolveEnv returns the environment the triggers of an object in
// namespace ns may read: every container's of template by name, and the
// default container's (container, else the first; field names where
// container was read). Both are nil when no trigger reads the
// environment, and template is then not called.
func (c *Controller) resolveEnv(ctx context.Context, rd *refcache.Reader, ns string, triggers []kedav1.ScaleTrigger, template podTemplateFunc, field, container string) (map[string]map[string]string, map[string]string, error) {
	names := c.envNames(ns, triggers)
	if names == nil {
		return nil, nil, nil
	}
	envs, order, err := targetEnv(ctx, rd, ns, template, names)
	if err != nil {
		return nil, nil, err
	}
	def, err := pickContainer(envs, order, field, container)
	if err != nil {
		return nil, nil, err
	}
	return envs, def, nil
}

// podTemplateFunc returns the scale target's spec.template (nil for
// kinds without one).
type podTemplateFunc func() (*corev1.PodTemplateSpec, error)

// podTemplate returns a podTemplateFunc that reads the scale target once,
// on its first call, and then answers from that read: one reconcile's
// checks share it.
func (c *Controller) podTemplate(ctx context.Context, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource) podTemplateFunc {
	var (
		done bool
		tmpl *corev1.PodTemplateSpec
		err  error
	)
	return func() (*corev1.PodTemplateSpec, error) {
		if !done {
			tmpl, err = c.readPodTemplate(ctx, so, gvkr)
			done = true
		}
		return tmpl, err
	}
}

func (c *Controller) readPodTemplate(ctx context.Context, so *kedav1.ScaledObject, gvkr kedav1.GroupVersionKindResource) (*corev1.PodTemplateSpec, error) {
	gvr := gvkr.GroupVersionKind().GroupVersion().WithResource(gvkr.Resource)
	obj, err := c.dyn.Resource(gvr).Namespace(so.Namespace).Get(ctx, so.Spec.ScaleTargetRef.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("read scale target %s %s: %w", gvkr.Kind, so.Spec.ScaleTargetRef.Name, errTargetNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read scale target %s %s: %w", gvkr.Kind, so.Spec.ScaleTargetRef.Name, err)
	}
	raw, found, _ := unstructured.NestedMap(obj.Object, "spec", "template")
	if !found {
		return nil, nil
	}
	var tmpl corev1.PodTemplateSpec
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(raw, &tmpl); err != nil {
		return nil, fmt.Errorf("scale target %s: spec.template: %w", so.Spec.ScaleTargetRef.Name, err)
	}
	return &tmpl, nil
}

// errTargetNotFound is the scale target's absence.
var errTargetNotFound = errors.New("not found")
