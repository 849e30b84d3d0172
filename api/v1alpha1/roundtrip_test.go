package v1alpha1_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

// manifest is one KEDA-shaped example from testdata.
type manifest struct {
	file string
	kind string
	raw  []byte
}

func readManifests(t *testing.T) []manifest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no manifests in testdata")
	}
	var out []manifest
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &tm); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if tm.APIVersion != v1alpha1.SchemeGroupVersion.String() {
			t.Fatalf("%s: apiVersion %q, want %q", f, tm.APIVersion, v1alpha1.SchemeGroupVersion)
		}
		out = append(out, manifest{file: filepath.Base(f), kind: tm.Kind, raw: raw})
	}
	return out
}

func newObject(t *testing.T, kind string) runtime.Object {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	obj, err := scheme.New(v1alpha1.SchemeGroupVersion.WithKind(kind))
	if err != nil {
		t.Fatalf("kind %q: %v", kind, err)
	}
	return obj
}

// decodeStrict decodes a manifest into its Go type, failing on any field the type lacks.
func decodeStrict(t *testing.T, m manifest) runtime.Object {
	t.Helper()
	obj := newObject(t, m.kind)
	if err := yaml.UnmarshalStrict(m.raw, obj); err != nil {
		t.Fatalf("%s: strict decode: %v", m.file, err)
	}
	return obj
}

// generic turns YAML or JSON into maps and slices, dropping nulls and empty objects, which the
// Go types may add (creationTimestamp: null, status: {}) or drop without changing meaning.
func generic(t *testing.T, data []byte) any {
	t.Helper()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	v, _ = prune(v)
	return v
}

func prune(v any) (any, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case map[string]any:
		for k, e := range x {
			if pe, keep := prune(e); keep {
				x[k] = pe
			} else {
				delete(x, k)
			}
		}
		return x, len(x) > 0
	case []any:
		for i, e := range x {
			x[i], _ = prune(e)
		}
		return x, true
	}
	return v, true
}

func TestManifestsRoundTrip(t *testing.T) {
	for _, m := range readManifests(t) {
		t.Run(m.file, func(t *testing.T) {
			obj := decodeStrict(t, m)
			back, err := json.Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			want, got := generic(t, m.raw), generic(t, back)
			if !reflect.DeepEqual(want, got) {
				w, _ := json.MarshalIndent(want, "", "  ")
				g, _ := json.MarshalIndent(got, "", "  ")
				t.Errorf("round trip changed the manifest\nwant:\n%s\ngot:\n%s", w, g)
			}
		})
	}
}

func TestManifestsDecodeIntoFields(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, obj runtime.Object)
	}{
		{"scaledobject-redis.yaml", func(t *testing.T, obj runtime.Object) {
			so := obj.(*v1alpha1.ScaledObject)
			expect(t, "HPAName", so.HPAName(), "redis-worker-hpa")
			expect(t, "listName", so.Spec.Triggers[0].Metadata["listName"], "work:queue")
			expect(t, "authenticationRef kind", so.Spec.Triggers[0].AuthenticationRef.AuthenticationKindOrDefault(), "TriggerAuthentication")
			expect(t, "fallback behavior", so.Spec.Fallback.Behavior, "currentReplicasIfHigher")
			expect(t, "scaleUp policies", len(so.Spec.Advanced.HorizontalPodAutoscalerConfig.Behavior.ScaleUp.Policies), 2)
			expect(t, "cooldown", so.Spec.CooldownPeriodOrDefault().String(), "2m0s")
			expect(t, "Validate", fmt.Sprint(so.Validate()), "<nil>")
		}},
		{"scaledobject-modifiers.yaml", func(t *testing.T, obj runtime.Object) {
			so := obj.(*v1alpha1.ScaledObject)
			expect(t, "uses modifiers", so.Spec.UsesScalingModifiers(), true)
			expect(t, "formula", so.Spec.Advanced.ScalingModifiers.Formula, "(kafka_lag + rabbit_depth) / 2")
			expect(t, "kind", so.Spec.Triggers[0].AuthenticationRef.Kind, "ClusterTriggerAuthentication")
			expect(t, "Validate", fmt.Sprint(so.Validate()), "<nil>")
		}},
		{"scaledobject-status.yaml", func(t *testing.T, obj runtime.Object) {
			st := obj.(*v1alpha1.ScaledObject).Status
			expect(t, "Ready", st.Conditions.IsTrue(v1alpha1.ConditionReady), true)
			expect(t, "PushHealthy", st.Conditions.IsTrue(v1alpha1.ConditionPushHealthy), true)
			expect(t, "gvkr", st.ScaleTargetGVKR.GVKString(), "apps/v1.Deployment")
			expect(t, "failures", *st.Health["s0-rabbitmq-orders-2Fnew"].NumberOfFailures, int32(0))
			expect(t, "active", st.TriggersActivity["s0-rabbitmq-orders-2Fnew"].IsActive, true)
			expect(t, "lastActiveTime", st.LastActiveTime.UTC().Format("15:04"), "10:05")
		}},
		{"scaledjob-rabbitmq.yaml", func(t *testing.T, obj runtime.Object) {
			sj := obj.(*v1alpha1.ScaledJob)
			tpl := sj.Spec.JobTargetRef.Template
			expect(t, "image", tpl.Spec.Containers[0].Image, "registry.example.com/thumbnailer:1.4.2")
			expect(t, "cpu limit", tpl.Spec.Containers[0].Resources.Limits.Cpu().String(), "1")
			expect(t, "template label", tpl.Labels["app"], "thumbnailer")
			expect(t, "backoffLimit", *sj.Spec.JobTargetRef.BackoffLimit, int32(4))
			expect(t, "pending conditions", len(sj.Spec.ScalingStrategy.PendingPodConditions), 2)
			expect(t, "rollout", sj.Spec.RolloutStrategyOrDefault(), "gradual")
		}},
		{"triggerauthentication.yaml", func(t *testing.T, obj runtime.Object) {
			ta := obj.(*v1alpha1.TriggerAuthentication)
			expect(t, "secret key", ta.Spec.SecretTargetRef[0].Key, "redis_password")
			expect(t, "env container", ta.Spec.Env[0].ContainerName, "worker")
			expect(t, "vault auth", ta.Spec.HashiCorpVault.Authentication, v1alpha1.VaultAuthenticationKubernetes)
			expect(t, "pki ttl", ta.Spec.HashiCorpVault.Secrets[0].PkiData.TTL, "24h")
			expect(t, "status", ta.Status.ScaledObjectNames, "redis-worker")
		}},
		{"triggerauthentication-providers.yaml", func(t *testing.T, obj runtime.Object) {
			spec := obj.(*v1alpha1.TriggerAuthentication).Spec
			expect(t, "provider", spec.PodIdentity.Provider, v1alpha1.PodIdentityProviderAzureWorkload)
			expect(t, "akv secret", spec.AzureKeyVault.Credentials.ClientSecret.ValueFrom.SecretKeyRef.Key, "clientSecret")
			expect(t, "aws secretKey", spec.AwsSecretManager.Secrets[0].SecretKey, "password")
			expect(t, "bound token", spec.BoundServiceAccountToken[0].ServiceAccountName, "prometheus-reader")
			expect(t, "audience", spec.OAuth2.TokenURLParams["audience"], "https://api.example.com")
		}},
		{"clustertriggerauthentication.yaml", func(t *testing.T, obj runtime.Object) {
			cta := obj.(*v1alpha1.ClusterTriggerAuthentication)
			expect(t, "namespace", cta.Namespace, "")
			expect(t, "owner", *cta.Spec.PodIdentity.IdentityOwner, "workload")
		}},
		{"clustertriggerauthentication-filepath.yaml", func(t *testing.T, obj runtime.Object) {
			expect(t, "filePath", obj.(*v1alpha1.ClusterTriggerAuthentication).Spec.FilePath, "credentials/shared.json")
		}},
	}
	byFile := map[string]manifest{}
	for _, m := range readManifests(t) {
		byFile[m.file] = m
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			m, ok := byFile[tt.file]
			if !ok {
				t.Fatalf("testdata/%s missing", tt.file)
			}
			tt.check(t, decodeStrict(t, m))
		})
	}
	if len(tests) != len(byFile) {
		t.Errorf("%d manifests in testdata, %d checked: add a case for each new manifest", len(byFile), len(tests))
	}
}

func TestStrictDecodeRejectsUnknownFields(t *testing.T) {
	tests := []struct {
		name, kind, doc, field string
	}{
		{"misspelt spec field", "ScaledObject", `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: a}
spec:
  scaleTargetRef: {name: a}
  pollingIntervall: 5
  triggers: [{type: redis, metadata: {listName: q}}]`, "pollingIntervall"},
		{"metadata value not a string", "ScaledObject", `
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: a}
spec:
  scaleTargetRef: {name: a}
  triggers: [{type: redis, metadata: {listLength: {nested: 5}}}]`, "metadata"},
		{"unknown auth source", "TriggerAuthentication", `
apiVersion: keda.sh/v1alpha1
kind: TriggerAuthentication
metadata: {name: a}
spec:
  secretRef: [{parameter: p, name: n, key: k}]`, "secretRef"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := newObject(t, tt.kind)
			err := yaml.UnmarshalStrict([]byte(tt.doc), obj)
			if err == nil || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want one naming %q", err, tt.field)
			}
		})
	}
}

func expect[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}
