package scaler

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// resolveAuth returns the parameters of the TriggerAuthentication or
// ClusterTriggerAuthentication ref names, for a trigger in namespace ns.
// Errors name the object, the Secret or ConfigMap and the key, never a
// value.
func (c *Controller) resolveAuth(ctx context.Context, ns string, ref *kedav1.AuthenticationRef) (map[string]string, error) {
	if ref == nil {
		return nil, nil
	}
	var spec *kedav1.TriggerAuthenticationSpec
	objNS := ns
	kind := ref.AuthenticationKindOrDefault()
	switch kind {
	case kedav1.KindTriggerAuthentication:
		obj, ok, err := c.taInformer.GetIndexer().GetByKey(ns + "/" + ref.Name)
		if err != nil || !ok {
			return nil, fmt.Errorf("TriggerAuthentication %s/%s not found", ns, ref.Name)
		}
		spec = &obj.(*kedav1.TriggerAuthentication).Spec
	case kedav1.KindClusterTriggerAuthentication:
		obj, ok, err := c.ctaInformer.GetIndexer().GetByKey(ref.Name)
		if err != nil || !ok {
			return nil, fmt.Errorf("ClusterTriggerAuthentication %s not found", ref.Name)
		}
		spec = &obj.(*kedav1.ClusterTriggerAuthentication).Spec
		objNS = c.opts.ClusterObjectNamespace
	default:
		return nil, fmt.Errorf("authenticationRef.kind %q: must be TriggerAuthentication or ClusterTriggerAuthentication", ref.Kind)
	}
	params := map[string]string{}
	for _, r := range spec.ConfigMapTargetRef {
		cm, err := c.kube.CoreV1().ConfigMaps(objNS).Get(ctx, r.Name, metav1.GetOptions{})
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
		s, err := c.kube.CoreV1().Secrets(objNS).Get(ctx, r.Name, metav1.GetOptions{})
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

// notFoundOnly keeps API errors short and free of object contents.
func notFoundOnly(err error) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("not found")
	}
	return err
}
