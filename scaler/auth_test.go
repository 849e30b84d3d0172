package scaler

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler/refcache"
)

// authController is a Controller with only what resolveAuth needs: the
// TriggerAuthentication caches filled with auths, and a running refcache
// on a fake clientset holding objs.
func authController(t *testing.T, auths []any, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	kube := fake.NewClientset(objs...)
	c := &Controller{
		opts:        Options{ClusterObjectNamespace: "pushscale-system"},
		taInformer:  cache.NewSharedIndexInformer(&cache.ListWatch{}, &kedav1.TriggerAuthentication{}, 0, cache.Indexers{}),
		ctaInformer: cache.NewSharedIndexInformer(&cache.ListWatch{}, &kedav1.ClusterTriggerAuthentication{}, 0, cache.Indexers{}),
		refs:        refcache.New(refcache.Options{Client: kube, SyncTimeout: 10 * time.Second}),
	}
	for _, a := range auths {
		inf := c.taInformer
		if _, ok := a.(*kedav1.ClusterTriggerAuthentication); ok {
			inf = c.ctaInformer
		}
		if err := inf.GetIndexer().Add(a); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.refs.Start(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c, kube
}

func ta(name string, spec kedav1.TriggerAuthenticationSpec) *kedav1.TriggerAuthentication {
	return &kedav1.TriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: spec}
}

const secretValue = "s3cret-value-never-shown"

func TestResolveAuth(t *testing.T) {
	objs := []runtime.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "creds"}, Data: map[string][]byte{"password": []byte(secretValue), "host": []byte("from-secret")}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "settings"}, Data: map[string]string{"host": "from-configmap", "port": "6380"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "pushscale-system", Name: "creds"}, Data: map[string][]byte{"password": []byte("cluster-pw")}},
	}
	all := kedav1.TriggerAuthenticationSpec{
		Env:                []kedav1.AuthEnvironment{{Parameter: "host", Name: "HOST"}, {Parameter: "user", Name: "USER"}},
		ConfigMapTargetRef: []kedav1.AuthTargetRef{{Parameter: "host", Name: "settings", Key: "host"}, {Parameter: "port", Name: "settings", Key: "port"}},
		SecretTargetRef:    []kedav1.AuthTargetRef{{Parameter: "host", Name: "creds", Key: "host"}, {Parameter: "password", Name: "creds", Key: "password"}},
		PodIdentity:        &kedav1.AuthPodIdentity{Provider: kedav1.PodIdentityProviderNone},
	}
	auths := []any{
		ta("all", all),
		ta("no-secret", kedav1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1.AuthTargetRef{{Parameter: "password", Name: "missing", Key: "password"}}}),
		ta("no-key", kedav1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1.AuthTargetRef{{Parameter: "password", Name: "creds", Key: "pass"}}}),
		ta("vault", kedav1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1.AuthTargetRef{{Parameter: "password", Name: "creds", Key: "password"}},
			HashiCorpVault:  &kedav1.HashiCorpVault{Address: "https://vault:8200", Authentication: kedav1.VaultAuthenticationToken},
		}),
		ta("aws-identity", kedav1.TriggerAuthenticationSpec{PodIdentity: &kedav1.AuthPodIdentity{Provider: kedav1.PodIdentityProviderAWS}}),
		&kedav1.ClusterTriggerAuthentication{ObjectMeta: metav1.ObjectMeta{Name: "cluster"}, Spec: kedav1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1.AuthTargetRef{{Parameter: "password", Name: "creds", Key: "password"}}}},
	}
	c, _ := authController(t, auths, objs...)
	env := map[string]string{"HOST": "from-env", "USER": "from-env"}
	for _, tc := range []struct {
		name    string
		ref     *kedav1.AuthenticationRef
		want    map[string]string
		wantErr string
	}{
		{name: "env, then configMap, then secret", ref: &kedav1.AuthenticationRef{Name: "all"},
			want: map[string]string{"host": "from-secret", "user": "from-env", "port": "6380", "password": secretValue}},
		{name: "cluster auth reads the cluster object namespace", ref: &kedav1.AuthenticationRef{Name: "cluster", Kind: kedav1.KindClusterTriggerAuthentication},
			want: map[string]string{"password": "cluster-pw"}},
		{name: "missing auth", ref: &kedav1.AuthenticationRef{Name: "nope"}, wantErr: "TriggerAuthentication ns/nope not found"},
		{name: "missing secret", ref: &kedav1.AuthenticationRef{Name: "no-secret"}, wantErr: "secret ns/missing: not found"},
		{name: "missing key", ref: &kedav1.AuthenticationRef{Name: "no-key"}, wantErr: `secret ns/creds has no key "pass"`},
		{name: "vault", ref: &kedav1.AuthenticationRef{Name: "vault"},
			wantErr: "TriggerAuthentication ns/vault: spec.hashiCorpVault not supported by pushscale"},
		{name: "pod identity", ref: &kedav1.AuthenticationRef{Name: "aws-identity"},
			wantErr: "spec.podIdentity (provider aws) not supported by pushscale"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rd := c.refs.Reader(refcache.Owner{Kind: refOwnerKind, Namespace: "ns", Name: tc.name})
			defer rd.Close()
			got, err := c.resolveAuth(context.Background(), rd, "ns", tc.ref, nil, env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), secretValue) {
					t.Fatal("the error shows a secret value")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUnsupportedSources(t *testing.T) {
	ref := &kedav1.SecretValue{ValueFrom: kedav1.SecretValueSource{SecretKeyRef: kedav1.SecretKeyRef{Name: "s", Key: "k"}}}
	for _, tc := range []struct {
		name string
		spec kedav1.TriggerAuthenticationSpec
		want string
	}{
		{name: "secrets, configMaps and env", spec: kedav1.TriggerAuthenticationSpec{
			SecretTargetRef: []kedav1.AuthTargetRef{{}}, ConfigMapTargetRef: []kedav1.AuthTargetRef{{}}, Env: []kedav1.AuthEnvironment{{}}}},
		{name: "podIdentity none", spec: kedav1.TriggerAuthenticationSpec{PodIdentity: &kedav1.AuthPodIdentity{Provider: kedav1.PodIdentityProviderNone}}},
		{name: "podIdentity azure", spec: kedav1.TriggerAuthenticationSpec{PodIdentity: &kedav1.AuthPodIdentity{Provider: kedav1.PodIdentityProviderAzureWorkload}},
			want: "spec.podIdentity (provider azure-workload)"},
		{name: "every store", spec: kedav1.TriggerAuthenticationSpec{
			HashiCorpVault:           &kedav1.HashiCorpVault{},
			AzureKeyVault:            &kedav1.AzureKeyVault{},
			GCPSecretManager:         &kedav1.GCPSecretManager{},
			AwsSecretManager:         &kedav1.AwsSecretManager{},
			BoundServiceAccountToken: []kedav1.BoundServiceAccountToken{{Parameter: "token", ServiceAccountName: "sa"}},
			OAuth2:                   &kedav1.OAuth2{Type: "clientCredentials", ClientSecret: *ref},
			FilePath:                 "auth.json",
		}, want: "spec.hashiCorpVault, spec.azureKeyVault, spec.gcpSecretManager, spec.awsSecretManager, spec.boundServiceAccountToken, spec.oauth2, spec.filePath"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := strings.Join(unsupportedSources(&tc.spec), ", "); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestUnsupportedAuthWarns(t *testing.T) {
	rec := record.NewFakeRecorder(10)
	c := &Controller{recorder: rec}
	c.warnUnsupportedAuth(ta("vault", kedav1.TriggerAuthenticationSpec{HashiCorpVault: &kedav1.HashiCorpVault{}}))
	c.warnUnsupportedAuth(ta("fine", kedav1.TriggerAuthenticationSpec{SecretTargetRef: []kedav1.AuthTargetRef{{}}}))
	close(rec.Events)
	var got []string
	for e := range rec.Events {
		got = append(got, e)
	}
	if len(got) != 1 || !strings.HasPrefix(got[0], "Warning "+ReasonUnsupportedAuthSource+" spec.hashiCorpVault not supported") {
		t.Fatalf("events %q, want one Warning %s naming spec.hashiCorpVault", got, ReasonUnsupportedAuthSource)
	}
}

// TestEnvFromCache: the target's env reads Secrets and ConfigMaps through
// the cache, with optional references skipped when missing.
func TestEnvFromCache(t *testing.T) {
	c, kube := authController(t, nil,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}, Data: map[string][]byte{"PASSWORD": []byte(secretValue)}},
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "cm"}, Data: map[string]string{"HOST": "redis"}})
	yes := true
	ctr := corev1.Container{Name: "app",
		EnvFrom: []corev1.EnvFromSource{
			{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
			{Prefix: "OPT_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "absent"}, Optional: &yes}},
		},
		Env: []corev1.EnvVar{
			{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "PASSWORD"}}},
			{Name: "PLAIN", Value: "v"},
		}}
	for range 3 {
		rd := c.refs.Reader(refcache.Owner{Kind: refOwnerKind, Namespace: "ns", Name: "so"})
		env, err := containerEnv(context.Background(), rd, "ns", ctr, map[string]bool{"HOST": true, "PW": true, "PLAIN": true})
		rd.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := map[string]string{"HOST": "redis", "PW": secretValue, "PLAIN": "v"}; !maps.Equal(env, want) {
			t.Fatalf("got %v, want %v", env, want)
		}
	}
	// One list per referenced object (three), however often it is read.
	lists := 0
	for _, a := range kube.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" {
			lists++
		}
	}
	if lists != 3 {
		t.Fatalf("%d get/list requests for three objects read three times, want 3", lists)
	}
	ctr.Env[0].ValueFrom.SecretKeyRef.Key = "NOPE"
	rd := c.refs.Reader(refcache.Owner{Kind: refOwnerKind, Namespace: "ns", Name: "so"})
	defer rd.Close()
	if _, err := containerEnv(context.Background(), rd, "ns", ctr, map[string]bool{"PW": true}); err == nil || !strings.Contains(err.Error(), `secret s key "NOPE" not found`) {
		t.Fatalf("got %v, want the missing key named", err)
	}
}

// TestEnvResolvesOnlyNamedVariables: a container with thousands of
// optional secretKeyRefs (each a watch, before) costs only the variables
// the triggers name; and one owner can never reference more than
// refcache.DefaultMaxPerOwner objects.
func TestEnvResolvesOnlyNamedVariables(t *testing.T) {
	c, _ := authController(t, nil,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "real"}, Data: map[string][]byte{"PASSWORD": []byte(secretValue)}})
	yes := true
	ref := func(name, secret string) corev1.EnvVar {
		return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "k", Optional: &yes}}}
	}
	ctr := corev1.Container{Name: "app"}
	for i := range 5000 {
		ctr.Env = append(ctr.Env, ref(fmt.Sprintf("V%d", i), fmt.Sprintf("missing-%d", i)))
	}
	ctr.Env = append(ctr.Env, corev1.EnvVar{Name: "PW", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "real"}, Key: "PASSWORD"}}})
	owner := refcache.Owner{Kind: refOwnerKind, Namespace: "ns", Name: "so"}
	rd := c.refs.Reader(owner)
	env, err := containerEnv(context.Background(), rd, "ns", ctr, map[string]bool{"PW": true})
	rd.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(env, map[string]string{"PW": secretValue}) {
		t.Errorf("env %v", env)
	}
	if n := c.refs.Watches(); n != 1 {
		t.Errorf("%d watches, want 1 (the Secret PW reads)", n)
	}

	// Names that do reference that many objects stop at the cap.
	names := map[string]bool{}
	for i := range 100 {
		names[fmt.Sprintf("V%d", i)] = true
	}
	rd = c.refs.Reader(owner)
	_, err = containerEnv(context.Background(), rd, "ns", ctr, names)
	rd.Close()
	if !errors.Is(err, refcache.ErrTooManyRefs) {
		t.Fatalf("100 referenced Secrets: %v, want ErrTooManyRefs", err)
	}
	if n := c.refs.Watches(); n > refcache.DefaultMaxPerOwner {
		t.Errorf("%d watches, more than %d", n, refcache.DefaultMaxPerOwner)
	}
}
