package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TriggerAuthentication holds, for triggers in its namespace, where their authentication
// parameters come from: Secrets, ConfigMaps, the scale target's environment, pod identity or
// an external secret store.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=triggerauthentications,scope=Namespaced,shortName=ta;triggerauth
// +kubebuilder:printcolumn:name="PodIdentity",type="string",JSONPath=".spec.podIdentity.provider"
// +kubebuilder:printcolumn:name="Secret",type="string",JSONPath=".spec.secretTargetRef[*].name"
// +kubebuilder:printcolumn:name="Env",type="string",JSONPath=".spec.env[*].name"
// +kubebuilder:printcolumn:name="VaultAddress",type="string",JSONPath=".spec.hashiCorpVault.address"
// +kubebuilder:printcolumn:name="ScaledObjects",type="string",priority=1,JSONPath=".status.scaledobjects"
// +kubebuilder:printcolumn:name="ScaledJobs",type="string",priority=1,JSONPath=".status.scaledjobs"
type TriggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TriggerAuthenticationSpec `json:"spec"`
	// +optional
	Status TriggerAuthenticationStatus `json:"status,omitempty"`
}

// TriggerAuthenticationList is a list of TriggerAuthentications.
//
// +kubebuilder:object:root=true
type TriggerAuthenticationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []TriggerAuthentication `json:"items"`
}

// ClusterTriggerAuthentication is a cluster-scoped TriggerAuthentication usable from every
// namespace; its Secrets and ConfigMaps are read from the cluster object namespace
// (--cluster-object-namespace, default pushscale's own).
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=clustertriggerauthentications,scope=Cluster,shortName=cta;clustertriggerauth
// +kubebuilder:printcolumn:name="PodIdentity",type="string",JSONPath=".spec.podIdentity.provider"
// +kubebuilder:printcolumn:name="Secret",type="string",JSONPath=".spec.secretTargetRef[*].name"
// +kubebuilder:printcolumn:name="Env",type="string",JSONPath=".spec.env[*].name"
// +kubebuilder:printcolumn:name="VaultAddress",type="string",JSONPath=".spec.hashiCorpVault.address"
// +kubebuilder:printcolumn:name="ScaledObjects",type="string",priority=1,JSONPath=".status.scaledobjects"
// +kubebuilder:printcolumn:name="ScaledJobs",type="string",priority=1,JSONPath=".status.scaledjobs"
type ClusterTriggerAuthentication struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec TriggerAuthenticationSpec `json:"spec"`
	// +optional
	Status TriggerAuthenticationStatus `json:"status,omitempty"`
}

// ClusterTriggerAuthenticationList is a list of ClusterTriggerAuthentications.
//
// +kubebuilder:object:root=true
type ClusterTriggerAuthenticationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterTriggerAuthentication `json:"items"`
}

// TriggerAuthenticationSpec lists the sources of authentication parameters, shared by both
// kinds. Within one object, later sources overwrite a parameter set by earlier ones, in KEDA's
// order: env, configMapTargetRef, secretTargetRef, hashiCorpVault, azureKeyVault,
// gcpSecretManager, awsSecretManager, boundServiceAccountToken, oauth2.
type TriggerAuthenticationSpec struct {
	// PodIdentity selects a platform identity (workload identity) for the scaler.
	// +optional
	PodIdentity *AuthPodIdentity `json:"podIdentity,omitempty"`

	// SecretTargetRef maps parameters to keys of Secrets.
	// +optional
	SecretTargetRef []AuthTargetRef `json:"secretTargetRef,omitempty"`

	// ConfigMapTargetRef maps parameters to keys of ConfigMaps.
	// +optional
	ConfigMapTargetRef []AuthTargetRef `json:"configMapTargetRef,omitempty"`

	// Env maps parameters to environment variables of the scale target's containers.
	// +optional
	Env []AuthEnvironment `json:"env,omitempty"`

	// HashiCorpVault reads parameters from Vault.
	// +optional
	HashiCorpVault *HashiCorpVault `json:"hashiCorpVault,omitempty"`

	// AzureKeyVault reads parameters from Azure Key Vault.
	// +optional
	AzureKeyVault *AzureKeyVault `json:"azureKeyVault,omitempty"`

	// GCPSecretManager reads parameters from Google Secret Manager.
	// +optional
	GCPSecretManager *GCPSecretManager `json:"gcpSecretManager,omitempty"`

	// AwsSecretManager reads parameters from AWS Secrets Manager.
	// +optional
	AwsSecretManager *AwsSecretManager `json:"awsSecretManager,omitempty"`

	// BoundServiceAccountToken sets parameters to tokens minted for service accounts.
	// +optional
	BoundServiceAccountToken []BoundServiceAccountToken `json:"boundServiceAccountToken,omitempty"`

	// OAuth2 gives the scaler the settings of an OAuth2 client-credentials grant.
	// +optional
	OAuth2 *OAuth2 `json:"oauth2,omitempty"`

	// FilePath (ClusterTriggerAuthentication only) is a JSON file of parameter names to values,
	// relative to the operator's file-auth root; when set it is the only source used.
	// +optional
	FilePath string `json:"filePath,omitempty"`
}

// TriggerAuthenticationStatus lists who uses a TriggerAuthentication.
type TriggerAuthenticationStatus struct {
	// ScaledObjectNames is the comma-separated list of ScaledObjects referring to it.
	// +optional
	ScaledObjectNames string `json:"scaledobjects,omitempty"`
	// ScaledJobNames is the comma-separated list of ScaledJobs referring to it.
	// +optional
	ScaledJobNames string `json:"scaledjobs,omitempty"`
}

// PodIdentityProvider names a platform identity mechanism.
type PodIdentityProvider string

// The accepted pod identity providers. aws-eks is deprecated in KEDA in favour of aws.
const (
	PodIdentityProviderNone          PodIdentityProvider = "none"
	PodIdentityProviderAzureWorkload PodIdentityProvider = "azure-workload"
	PodIdentityProviderGCP           PodIdentityProvider = "gcp"
	PodIdentityProviderAWS           PodIdentityProvider = "aws"
	PodIdentityProviderAWSEKS        PodIdentityProvider = "aws-eks"
)

// AuthPodIdentity selects a platform identity and its options.
type AuthPodIdentity struct {
	// Provider of the identity.
	// +kubebuilder:validation:Enum=azure-workload;gcp;aws;aws-eks;none
	Provider PodIdentityProvider `json:"provider"`

	// IdentityID selects a user-assigned identity (Azure).
	// +optional
	IdentityID *string `json:"identityId,omitempty"`

	// IdentityTenantID overrides the Azure tenant; requires identityId.
	// +optional
	IdentityTenantID *string `json:"identityTenantId,omitempty"`

	// IdentityAuthorityHost overrides the Azure authority host; requires identityTenantId.
	// +optional
	IdentityAuthorityHost *string `json:"identityAuthorityHost,omitempty"`

	// RoleArn is the AWS role to assume; exclusive with identityOwner.
	// +optional
	RoleArn *string `json:"roleArn,omitempty"`

	// IdentityOwner is whose AWS identity is used: keda (the operator's) or workload (the
	// scale target's); exclusive with roleArn.
	// +optional
	// +kubebuilder:validation:Enum=keda;workload
	IdentityOwner *string `json:"identityOwner,omitempty"`
}

// AuthTargetRef maps a parameter to one key of a Secret or ConfigMap.
type AuthTargetRef struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// Name of the Secret or ConfigMap.
	Name string `json:"name"`
	// Key within it.
	Key string `json:"key"`
}

// AuthEnvironment maps a parameter to an environment variable of the scale target.
type AuthEnvironment struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// Name of the environment variable.
	Name string `json:"name"`
	// ContainerName is the container to read (default the trigger's env source container).
	// +optional
	ContainerName string `json:"containerName,omitempty"`
}

// HashiCorpVault reads parameters from HashiCorp Vault.
type HashiCorpVault struct {
	// Address of the Vault server.
	Address string `json:"address"`
	// Authentication method: token or kubernetes.
	Authentication VaultAuthentication `json:"authentication"`
	// Secrets to read.
	Secrets []VaultSecret `json:"secrets"`
	// Namespace (Vault Enterprise).
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// Credential for the authentication method.
	// +optional
	Credential *VaultCredential `json:"credential,omitempty"`
	// Role for kubernetes authentication.
	// +optional
	Role string `json:"role,omitempty"`
	// Mount path of the authentication method.
	// +optional
	Mount string `json:"mount,omitempty"`
}

// VaultAuthentication is a Vault authentication method.
type VaultAuthentication string

// The Vault authentication methods KEDA supports.
const (
	VaultAuthenticationToken      VaultAuthentication = "token"
	VaultAuthenticationKubernetes VaultAuthentication = "kubernetes"
)

// VaultCredential holds what the Vault authentication method needs.
type VaultCredential struct {
	// Token for token authentication.
	// +optional
	Token string `json:"token,omitempty"`
	// ServiceAccount is the path of a service account token file (kubernetes authentication).
	// +optional
	ServiceAccount string `json:"serviceAccount,omitempty"`
	// ServiceAccountName is a service account to mint a token for (kubernetes authentication).
	// +optional
	ServiceAccountName string `json:"serviceAccountName,omitempty"`
}

// VaultSecretType is the kind of Vault secrets engine a secret is read from.
type VaultSecretType string

// The Vault secret types; the empty type reads a generic path.
const (
	VaultSecretTypeGeneric  VaultSecretType = ""
	VaultSecretTypeSecretV2 VaultSecretType = "secretV2"
	VaultSecretTypeSecret   VaultSecretType = "secret"
	VaultSecretTypePKI      VaultSecretType = "pki"
)

// VaultSecret maps a parameter to a key of a Vault secret.
type VaultSecret struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// Path of the secret.
	Path string `json:"path"`
	// Key within the secret.
	Key string `json:"key"`
	// Type of the secrets engine.
	// +optional
	Type VaultSecretType `json:"type,omitempty"`
	// PkiData is the certificate request for the pki type.
	// +optional
	PkiData *VaultPkiData `json:"pkiData,omitempty"`
}

// VaultPkiData is a certificate request to Vault's pki engine.
type VaultPkiData struct {
	// +optional
	CommonName string `json:"commonName,omitempty"`
	// +optional
	AltNames string `json:"altNames,omitempty"`
	// +optional
	IPSans string `json:"ipSans,omitempty"`
	// +optional
	URISans string `json:"uriSans,omitempty"`
	// +optional
	OtherSans string `json:"otherSans,omitempty"`
	// +optional
	TTL string `json:"ttl,omitempty"`
	// +optional
	Format string `json:"format,omitempty"`
}

// SecretKeyRef names one key of a Secret in the authentication's namespace.
type SecretKeyRef struct {
	// Name of the Secret.
	Name string `json:"name"`
	// Key within the Secret.
	Key string `json:"key"`
}

// SecretValueSource says where a SecretValue comes from.
type SecretValueSource struct {
	// SecretKeyRef is the Secret key holding the value.
	SecretKeyRef SecretKeyRef `json:"secretKeyRef"`
}

// SecretValue is a credential read from a Secret: {valueFrom: {secretKeyRef: {name, key}}}.
type SecretValue struct {
	// ValueFrom is where the value is read.
	ValueFrom SecretValueSource `json:"valueFrom"`
}

// AzureKeyVault reads parameters from Azure Key Vault.
type AzureKeyVault struct {
	// VaultURI is the vault's URI.
	VaultURI string `json:"vaultUri"`
	// Secrets to read.
	Secrets []AzureKeyVaultSecret `json:"secrets"`
	// Credentials of a service principal; alternative to podIdentity.
	// +optional
	Credentials *AzureKeyVaultCredentials `json:"credentials,omitempty"`
	// PodIdentity to authenticate with; alternative to credentials.
	// +optional
	PodIdentity *AuthPodIdentity `json:"podIdentity,omitempty"`
	// Cloud selects a non-public Azure cloud.
	// +optional
	Cloud *AzureKeyVaultCloudInfo `json:"cloud,omitempty"`
}

// AzureKeyVaultSecret maps a parameter to a Key Vault secret.
type AzureKeyVaultSecret struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// Name of the Key Vault secret.
	Name string `json:"name"`
	// Version of the secret (default the latest).
	// +optional
	Version string `json:"version,omitempty"`
}

// AzureKeyVaultCredentials is a service principal.
type AzureKeyVaultCredentials struct {
	// ClientID of the service principal.
	ClientID string `json:"clientId"`
	// TenantID of the service principal.
	TenantID string `json:"tenantId"`
	// ClientSecret of the service principal.
	ClientSecret *SecretValue `json:"clientSecret"`
}

// AzureKeyVaultCloudInfo selects the Azure cloud.
type AzureKeyVaultCloudInfo struct {
	// Type of cloud, e.g. AzurePublicCloud or Private.
	Type string `json:"type"`
	// +optional
	KeyVaultResourceURL string `json:"keyVaultResourceURL,omitempty"`
	// +optional
	ActiveDirectoryEndpoint string `json:"activeDirectoryEndpoint,omitempty"`
}

// GCPSecretManager reads parameters from Google Secret Manager.
type GCPSecretManager struct {
	// Secrets to read.
	Secrets []GCPSecretManagerSecret `json:"secrets"`
	// Credentials of a service account; alternative to podIdentity.
	// +optional
	Credentials *GCPCredentials `json:"credentials,omitempty"`
	// PodIdentity to authenticate with; alternative to credentials.
	// +optional
	PodIdentity *AuthPodIdentity `json:"podIdentity,omitempty"`
}

// GCPCredentials holds a service account key.
type GCPCredentials struct {
	// ClientSecret is the service account key (JSON).
	ClientSecret SecretValue `json:"clientSecret"`
}

// GCPSecretManagerSecret maps a parameter to a Secret Manager secret.
type GCPSecretManagerSecret struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// ID of the secret.
	ID string `json:"id"`
	// Version of the secret (default latest).
	// +optional
	Version string `json:"version,omitempty"`
}

// AwsSecretManager reads parameters from AWS Secrets Manager.
type AwsSecretManager struct {
	// Secrets to read.
	Secrets []AwsSecretManagerSecret `json:"secrets"`
	// Credentials of an IAM user; alternative to podIdentity.
	// +optional
	Credentials *AwsSecretManagerCredentials `json:"credentials,omitempty"`
	// PodIdentity to authenticate with; alternative to credentials.
	// +optional
	PodIdentity *AuthPodIdentity `json:"podIdentity,omitempty"`
	// Region of the secrets.
	// +optional
	Region string `json:"region,omitempty"`
}

// AwsSecretManagerCredentials are static AWS credentials read from Secrets.
type AwsSecretManagerCredentials struct {
	// AccessKey is the access key ID.
	AccessKey *SecretValue `json:"accessKey"`
	// AccessSecretKey is the secret access key.
	AccessSecretKey *SecretValue `json:"accessSecretKey"`
	// AccessToken is a session token.
	// +optional
	AccessToken *SecretValue `json:"accessToken,omitempty"`
}

// AwsSecretManagerSecret maps a parameter to a Secrets Manager secret, or to one key of a
// JSON secret when SecretKey is set.
type AwsSecretManagerSecret struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// Name (or ARN) of the secret.
	Name string `json:"name"`
	// VersionID selects a version of the secret.
	// +optional
	VersionID string `json:"versionId,omitempty"`
	// VersionStage selects a staging label, e.g. AWSCURRENT.
	// +optional
	VersionStage string `json:"versionStage,omitempty"`
	// SecretKey is the key to read within a JSON secret.
	// +optional
	SecretKey string `json:"secretKey,omitempty"`
}

// BoundServiceAccountToken sets a parameter to a token minted (TokenRequest) for a service
// account in the authentication's namespace.
type BoundServiceAccountToken struct {
	// Parameter is the scaler's authentication parameter name.
	Parameter string `json:"parameter"`
	// ServiceAccountName is the service account the token is minted for.
	ServiceAccountName string `json:"serviceAccountName"`
}

// OAuth2 configures a client-credentials grant; it sets the parameters oauthTokenURI, clientID,
// clientSecret, scopes and endpointParams.
type OAuth2 struct {
	// Type of grant; only clientCredentials.
	// +kubebuilder:validation:Enum=clientCredentials
	Type string `json:"type"`
	// ClientID of the OAuth2 client.
	ClientID string `json:"clientId"`
	// ClientSecret of the OAuth2 client.
	ClientSecret SecretValue `json:"clientSecret"`
	// TokenURL is the token endpoint.
	TokenURL string `json:"tokenUrl"`
	// Scopes requested.
	// +optional
	Scopes []string `json:"scopes,omitempty"`
	// TokenURLParams are extra form parameters of the token request.
	// +optional
	TokenURLParams map[string]string `json:"tokenUrlParams,omitempty"`
}
