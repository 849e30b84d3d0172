package scaler

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler/refcache"
	"github.com/pushscale/pushscale/sources"
)

// resolveAuth returns the parameters of the TriggerAuthentication or
// ClusterTriggerAuthentication ref names, for a trigger in namespace ns.
// Errors name the object, the Secret or ConfigMap and the key, never a
// value. Secrets and ConfigMaps are read through rd, from memory: rd
// records them, so a change to one reconciles the object again. A source
// pushscale does not serve (see unsupportedSources) is an error naming
// its field.
//
// Parameters are filled in KEDA's order, later sources overwriting earlier
// ones: env (of the scale target's containers: envs by container name,
// defaultEnv for entries without containerName), configMapTargetRef,
// secretTargetRef.
func (c *Controller) resolveAuth(ctx context.Context, rd *refcache.Reader, ns string, ref *kedav1.AuthenticationRef, envs map[string]map[string]string, defaultEnv map[string]string) (map[string]string, error) {
	if ref == nil {
		return nil, nil
	}
	kind := ref.AuthenticationKindOrDefault()
	if kind != kedav1.KindTriggerAuthentication && kind != kedav1.KindClusterTriggerAuthentication {
		return nil, fmt.Errorf("authenticationRef.kind %q: must be TriggerAuthentication or ClusterTriggerAuthentication", ref.Kind)
	}
	spec := c.authSpec(ns, ref)
	if spec == nil {
		if kind == kedav1.KindClusterTriggerAuthentication {
			return nil, fmt.Errorf("ClusterTriggerAuthentication %s not found", ref.Name)
		}
		return nil, fmt.Errorf("TriggerAuthentication %s/%s not found", ns, ref.Name)
	}
	objNS, what := ns, fmt.Sprintf("%s %s/%s", kind, ns, ref.Name)
	if kind == kedav1.KindClusterTriggerAuthentication {
		objNS, what = c.opts.ClusterObjectNamespace, fmt.Sprintf("%s %s", kind, ref.Name)
	}
	if fields := unsupportedSources(spec); len(fields) > 0 {
		return nil, fmt.Errorf("%s: %s", what, unsupportedMessage(fields))
	}
	params := map[string]string{}
	for _, e := range spec.Env {
		env := defaultEnv
		if e.ContainerName != "" {
			env = envs[e.ContainerName]
		}
		if v, ok := env[e.Name]; ok {
			params[e.Parameter] = v
		}
	}
	for _, r := range spec.ConfigMapTargetRef {
		cm, err := rd.ConfigMap(ctx, objNS, r.Name)
		if err != nil {
			return nil, fmt.Errorf("%s %s: configMap %s/%s: %w", kind, ref.Name, objNS, r.Name, notFoundOnly(err))
		}
		v, ok := cm.Data[r.Key]
		if !ok {
			return nil, fmt.Errorf("%s %s: configMap %s/%s has no key %q", kind, ref.Name, objNS, r.Name, r.Key)
		}
		params[r.Parameter] = v
	}
	for _, r := range spec.SecretTargetRef {
		s, err := rd.Secret(ctx, objNS, r.Name)
		if err != nil {
			return nil, fmt.Errorf("%s %s: secret %s/%s: %w", kind, ref.Name, objNS, r.Name, notFoundOnly(err))
		}
		v, ok := s.Data[r.Key]
		if !ok {
			return nil, fmt.Errorf("%s %s: secret %s/%s has no key %q", kind, ref.Name, objNS, r.Name, r.Key)
		}
		params[r.Parameter] = string(v)
	}
	return params, nil
}

// authSpec returns the spec of the TriggerAuthentication or
// ClusterTriggerAuthentication ref names, or nil.
func (c *Controller) authSpec(ns string, ref *kedav1.AuthenticationRef) *kedav1.TriggerAuthenticationSpec {
	if ref == nil {
		return nil
	}
	switch ref.AuthenticationKindOrDefault() {
	case kedav1.KindTriggerAuthentication:
		if obj, ok, err := c.taInformer.GetIndexer().GetByKey(ns + "/" + ref.Name); err == nil && ok {
			return &obj.(*kedav1.TriggerAuthentication).Spec
		}
	case kedav1.KindClusterTriggerAuthentication:
		if obj, ok, err := c.ctaInformer.GetIndexer().GetByKey(ref.Name); err == nil && ok {
			return &obj.(*kedav1.ClusterTriggerAuthentication).Spec
		}
	}
	return nil
}

// clusterAuth returns what a trigger's source needs to check the targets
// of a trigger authenticated by a ClusterTriggerAuthentication (nil for
// any other reference, or with the check off). In warn mode what the check
// would refuse becomes a Warning Event on obj, the trigger's owner.
func (c *Controller) clusterAuth(obj runtime.Object, ref *kedav1.AuthenticationRef) *sources.ClusterAuth {
	check := c.opts.ClusterTriggerAuthTargetCheck
	if check == "" {
		check = sources.TargetCheckEnforce
	}
	if ref == nil || ref.AuthenticationKindOrDefault() != kedav1.KindClusterTriggerAuthentication || check == sources.TargetCheckOff {
		return nil
	}
	ca := &sources.ClusterAuth{Name: ref.Name, Check: check, Warn: func(msg string) {
		c.event(obj, true, ReasonClusterAuthTargetNotAllowed, "%s", msg)
	}}
	if obj, ok, err := c.ctaInformer.GetIndexer().GetByKey(ref.Name); err == nil && ok {
		ca.AllowedTargets = sources.ParseAllowedTargets(obj.(*kedav1.ClusterTriggerAuthentication).Annotations[sources.AllowedTargetsAnnotation])
	}
	return ca
}

// ReasonClusterAuthTargetNotAllowed is the Warning Event of
// --cluster-trigger-auth-target-check=warn.
const ReasonClusterAuthTargetNotAllowed = "ClusterTriggerAuthTargetNotAllowed"

// notFoundOnly keeps API errors short and free of object contents.
func notFoundOnly(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("not found")
	}
	return err
}
