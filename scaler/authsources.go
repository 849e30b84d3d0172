package scaler

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// ReasonUnsupportedAuthSource is the reason of the Warning Event on a
// TriggerAuthentication or ClusterTriggerAuthentication that uses a source
// pushscale does not serve.
const ReasonUnsupportedAuthSource = "UnsupportedAuthSource"

// unsupportedSources returns the fields of spec naming sources pushscale
// does not serve: external secret stores, minted tokens, OAuth2 and file
// parameters, and every platform identity (podIdentity provider none is
// no identity, and served). The schema accepts them all, as KEDA's does.
func unsupportedSources(spec *kedav1.TriggerAuthenticationSpec) []string {
	var fields []string
	if p := spec.PodIdentity; p != nil && p.Provider != "" && p.Provider != kedav1.PodIdentityProviderNone {
		fields = append(fields, fmt.Sprintf("spec.podIdentity (provider %s)", p.Provider))
	}
	if spec.HashiCorpVault != nil {
		fields = append(fields, "spec.hashiCorpVault")
	}
	if spec.AzureKeyVault != nil {
		fields = append(fields, "spec.azureKeyVault")
	}
	if spec.GCPSecretManager != nil {
		fields = append(fields, "spec.gcpSecretManager")
	}
	if spec.AwsSecretManager != nil {
		fields = append(fields, "spec.awsSecretManager")
	}
	if len(spec.BoundServiceAccountToken) > 0 {
		fields = append(fields, "spec.boundServiceAccountToken")
	}
	if spec.OAuth2 != nil {
		fields = append(fields, "spec.oauth2")
	}
	if spec.FilePath != "" {
		fields = append(fields, "spec.filePath")
	}
	return fields
}

func unsupportedMessage(fields []string) string {
	return fmt.Sprintf("%s not supported by pushscale (it serves secretTargetRef, configMapTargetRef, env and podIdentity provider none)",
		strings.Join(fields, ", "))
}

// warnUnsupportedAuth records a Warning Event on a TriggerAuthentication
// or ClusterTriggerAuthentication that uses sources pushscale does not
// serve. It is called when one is added or its spec changes.
func (c *Controller) warnUnsupportedAuth(obj any) {
	var spec *kedav1.TriggerAuthenticationSpec
	switch a := obj.(type) {
	case *kedav1.TriggerAuthentication:
		spec = &a.Spec
	case *kedav1.ClusterTriggerAuthentication:
		spec = &a.Spec
	default:
		return
	}
	if fields := unsupportedSources(spec); len(fields) > 0 {
		c.recorder.Eventf(obj.(runtime.Object), corev1.EventTypeWarning, ReasonUnsupportedAuthSource,
			"%s; ScaledObjects whose triggers use it are not scaled", unsupportedMessage(fields))
	}
}
