package companion

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// Auth resolves the parameters of a TriggerAuthentication. Only
// namespaced TriggerAuthentications exist for companion mode: the
// namespace is always the caller's ScaledObjectRef's, so one namespace's
// request never reaches another's credentials. ClusterTriggerAuthentications
// are refused: the tenant rules that make them safe
// (--cluster-trigger-auth-target-check) need the ScaledObject and its
// ClusterTriggerAuthentication's annotation, which KEDA does not forward.
type Auth interface {
	// Resolve returns the parameters of TriggerAuthentication name in
	// namespace. Errors name the objects and keys, never a value.
	Resolve(ctx context.Context, namespace, name string) (map[string]string, error)
}

// KubeAuth reads TriggerAuthentications (get), Secrets and ConfigMaps
// (list by name: what the gateway's role allows) from the apiserver at
// each Resolve (the Server resolves when it first watches a trigger and
// then every AuthRefresh, not per request).
type KubeAuth struct {
	Kube kubernetes.Interface
	Keda rest.Interface
}

// NewKubeAuth returns a KubeAuth for cfg.
func NewKubeAuth(cfg *rest.Config) (*KubeAuth, error) {
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("companion: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := kedav1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("companion: %w", err)
	}
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &kedav1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	keda, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("companion: keda.sh client: %w", err)
	}
	return &KubeAuth{Kube: kube, Keda: keda}, nil
}

// Resolve implements Auth.
func (a *KubeAuth) Resolve(ctx context.Context, namespace, name string) (map[string]string, error) {
	ta := &kedav1.TriggerAuthentication{}
	err := a.Keda.Get().Namespace(namespace).Resource("triggerauthentications").Name(name).Do(ctx).Into(ta)
	if err != nil {
		return nil, fmt.Errorf("%s: TriggerAuthentication %s/%s: %w", KeyAuthenticationRef, namespace, name, short(err))
	}
	return resolveSpec(ctx, a.Kube, namespace, name, &ta.Spec)
}

// resolveSpec fills the parameters of spec in KEDA's order
// (configMapTargetRef, then secretTargetRef overwriting).
func resolveSpec(ctx context.Context, kube kubernetes.Interface, namespace, name string, spec *kedav1.TriggerAuthenticationSpec) (map[string]string, error) {
	what := fmt.Sprintf("%s: TriggerAuthentication %s/%s", KeyAuthenticationRef, namespace, name)
	if fields := unserved(spec); len(fields) > 0 {
		return nil, fmt.Errorf("%s: %s not served in companion mode (secretTargetRef and configMapTargetRef are)", what, strings.Join(fields, ", "))
	}
	// Each ref reads one object's data as strings: a ConfigMap's as it
	// is, a Secret's decoded.
	configMap := func(ctx context.Context, name string) (map[string]string, error) {
		list, err := kube.CoreV1().ConfigMaps(namespace).List(ctx, byName(name))
		if err != nil {
			return nil, err
		}
		for _, c := range list.Items {
			if c.Name == name {
				return c.Data, nil
			}
		}
		return nil, errNotFound
	}
	secret := func(ctx context.Context, name string) (map[string]string, error) {
		list, err := kube.CoreV1().Secrets(namespace).List(ctx, byName(name))
		if err != nil {
			return nil, err
		}
		for _, s := range list.Items {
			if s.Name == name {
				data := make(map[string]string, len(s.Data))
				for k, v := range s.Data {
					data[k] = string(v)
				}
				return data, nil
			}
		}
		return nil, errNotFound
	}
	params := map[string]string{}
	for _, set := range []struct {
		kind string
		refs []kedav1.AuthTargetRef
		read func(context.Context, string) (map[string]string, error)
	}{{"configMap", spec.ConfigMapTargetRef, configMap}, {"secret", spec.SecretTargetRef, secret}} {
		for _, r := range set.refs {
			data, err := set.read(ctx, r.Name)
			if err != nil {
				return nil, fmt.Errorf("%s: %s %s: %w", what, set.kind, r.Name, short(err))
			}
			v, ok := data[r.Key]
			if !ok {
				return nil, fmt.Errorf("%s: %s %s has no key %q", what, set.kind, r.Name, r.Key)
			}
			params[r.Parameter] = v
		}
	}
	return params, nil
}

// byName lists the one object named name: the gateway's role may list
// and watch Secrets and ConfigMaps (what its reference cache does), not
// get them.
func byName(name string) metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
}

var errNotFound = errors.New("not found")

// unserved lists the fields of spec companion mode cannot serve: env
// needs the scale target's containers, which KEDA does not forward; the
// rest pushscale serves nowhere.
func unserved(spec *kedav1.TriggerAuthenticationSpec) []string {
	var f []string
	add := func(set bool, field string) {
		if set {
			f = append(f, field)
		}
	}
	add(len(spec.Env) > 0, "spec.env")
	add(spec.PodIdentity != nil && spec.PodIdentity.Provider != "" && spec.PodIdentity.Provider != kedav1.PodIdentityProviderNone, "spec.podIdentity")
	add(spec.HashiCorpVault != nil, "spec.hashiCorpVault")
	add(spec.AzureKeyVault != nil, "spec.azureKeyVault")
	add(spec.GCPSecretManager != nil, "spec.gcpSecretManager")
	add(spec.AwsSecretManager != nil, "spec.awsSecretManager")
	add(len(spec.BoundServiceAccountToken) > 0, "spec.boundServiceAccountToken")
	add(spec.OAuth2 != nil, "spec.oauth2")
	add(spec.FilePath != "", "spec.filePath")
	return f
}

// short keeps API errors free of object contents.
func short(err error) error {
	switch {
	case apierrors.IsNotFound(err), errors.Is(err, errNotFound):
		return errNotFound
	case apierrors.IsForbidden(err):
		return fmt.Errorf("forbidden to pushscale's ServiceAccount")
	}
	return err
}
