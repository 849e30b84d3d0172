package scaler

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// Scheme knows the core Kubernetes kinds and keda.sh/v1alpha1, for the
// REST client and the event recorder.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = kedav1.AddToScheme(s)
	return s
}

// newKedaClient returns a REST client for keda.sh/v1alpha1.
func newKedaClient(cfg *rest.Config, scheme *runtime.Scheme) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &kedav1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = "pushscale"
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("scaler: keda.sh client: %w", err)
	}
	return rc, nil
}
