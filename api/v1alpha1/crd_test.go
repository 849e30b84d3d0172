package v1alpha1_test

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/yaml"

	"github.com/pushscale/pushscale/api/v1alpha1"
)

const crdDir = "../../manifests/crds"

// loadCRDs reads every generated CRD, keyed by kind (controller-gen names
// them <group>_<plural>.yaml; the folder's kustomization.yaml is not one).
func loadCRDs(t *testing.T) map[string]*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(crdDir, "*_*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crds := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(raw, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if want := crd.Spec.Group + "_" + crd.Spec.Names.Plural + ".yaml"; filepath.Base(f) != want {
			t.Errorf("%s holds %s, want file name %s", f, crd.Name, want)
		}
		crds[crd.Spec.Names.Kind] = crd
	}
	return crds
}

func TestCRDs(t *testing.T) {
	tests := []struct {
		kind, plural, singular string
		shortNames             []string
		scope                  apiextensionsv1.ResourceScope
		columns                []string
	}{
		{"ScaledObject", "scaledobjects", "scaledobject", []string{"so"}, apiextensionsv1.NamespaceScoped,
			[]string{"ScaleTargetKind", "ScaleTargetName", "Min", "Max", "Ready", "Active", "Fallback", "Paused", "Triggers", "Authentications", "PushHealthy", "Age"}},
		{"ScaledJob", "scaledjobs", "scaledjob", []string{"sj"}, apiextensionsv1.NamespaceScoped,
			[]string{"Min", "Max", "Ready", "Active", "Paused", "Triggers", "Authentications", "PushHealthy", "Age"}},
		{"TriggerAuthentication", "triggerauthentications", "triggerauthentication", []string{"ta", "triggerauth"}, apiextensionsv1.NamespaceScoped,
			[]string{"PodIdentity", "Secret", "Env", "VaultAddress", "ScaledObjects", "ScaledJobs"}},
		{"ClusterTriggerAuthentication", "clustertriggerauthentications", "clustertriggerauthentication", []string{"cta", "clustertriggerauth"}, apiextensionsv1.ClusterScoped,
			[]string{"PodIdentity", "Secret", "Env", "VaultAddress", "ScaledObjects", "ScaledJobs"}},
	}
	crds := loadCRDs(t)
	if len(crds) != len(tests) {
		t.Errorf("%d CRDs in %s, want %d", len(crds), crdDir, len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			crd, ok := crds[tt.kind]
			if !ok {
				t.Fatalf("no CRD for %s", tt.kind)
			}
			n := crd.Spec.Names
			expect(t, "name", crd.Name, tt.plural+"."+v1alpha1.GroupName)
			expect(t, "group", crd.Spec.Group, v1alpha1.GroupName)
			expect(t, "plural", n.Plural, tt.plural)
			expect(t, "singular", n.Singular, tt.singular)
			expect(t, "listKind", n.ListKind, tt.kind+"List")
			expect(t, "scope", crd.Spec.Scope, tt.scope)
			if !reflect.DeepEqual(n.ShortNames, tt.shortNames) {
				t.Errorf("shortNames = %v, want %v", n.ShortNames, tt.shortNames)
			}
			if len(crd.Spec.Versions) != 1 {
				t.Fatalf("%d versions, want 1", len(crd.Spec.Versions))
			}
			v := crd.Spec.Versions[0]
			expect(t, "version", v.Name, v1alpha1.SchemeGroupVersion.Version)
			expect(t, "served", v.Served, true)
			expect(t, "storage", v.Storage, true)
			if v.Subresources == nil || v.Subresources.Status == nil {
				t.Error("no status subresource")
			}
			var cols []string
			for _, c := range v.AdditionalPrinterColumns {
				cols = append(cols, c.Name)
			}
			if !reflect.DeepEqual(cols, tt.columns) {
				t.Errorf("printer columns = %v, want %v", cols, tt.columns)
			}
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Fatal("no schema")
			}
		})
	}
}

// structural converts a CRD's schema the way the API server does, failing if the server would
// reject it as non-structural.
func structural(t *testing.T, crd *apiextensionsv1.CustomResourceDefinition) *structuralschema.Structural {
	t.Helper()
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(crd.Spec.Versions[0].Schema.OpenAPIV3Schema, &internal, nil); err != nil {
		t.Fatal(err)
	}
	s, err := structuralschema.NewStructural(&internal)
	if err != nil {
		t.Fatalf("%s: %v", crd.Name, err)
	}
	if errs := structuralschema.ValidateStructural(field.NewPath("openAPIV3Schema"), s); len(errs) > 0 {
		t.Fatalf("%s is not structural: %v", crd.Name, errs.ToAggregate())
	}
	return s
}

func TestCRDSchemasAreStructural(t *testing.T) {
	for kind, crd := range loadCRDs(t) {
		t.Run(kind, func(t *testing.T) { structural(t, crd) })
	}
}

// TestCRDSchemasPruneNothingFromManifests stores each testdata manifest the way the API server
// would and checks no field is dropped: in particular a full Job spec survives in a ScaledJob.
func TestCRDSchemasPruneNothingFromManifests(t *testing.T) {
	crds := loadCRDs(t)
	for _, m := range readManifests(t) {
		t.Run(m.file, func(t *testing.T) {
			crd, ok := crds[m.kind]
			if !ok {
				t.Fatalf("no CRD for %s", m.kind)
			}
			obj := generic(t, m.raw)
			stored := runtime.DeepCopyJSONValue(obj)
			dropped := pruning.PruneWithOptions(stored, structural(t, crd), true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
			if len(dropped) > 0 {
				t.Errorf("the %s schema prunes %v", m.kind, dropped)
			}
			if !reflect.DeepEqual(obj, stored) {
				t.Error("pruning changed the manifest")
			}
		})
	}
}

// TestCRDDefaults guards "defaults only where KEDA's CRD has them": the only schema default
// is fallback.behavior: static.
func TestCRDDefaults(t *testing.T) {
	var got []string
	for kind, crd := range loadCRDs(t) {
		walkSchema(kind, crd.Spec.Versions[0].Schema.OpenAPIV3Schema, func(path string, s *apiextensionsv1.JSONSchemaProps) {
			if s.Default != nil {
				got = append(got, path+"="+string(s.Default.Raw))
			}
		})
	}
	sort.Strings(got)
	want := []string{`ScaledObject.spec.fallback.behavior="static"`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("defaults = %v, want %v", got, want)
	}
}

func walkSchema(path string, s *apiextensionsv1.JSONSchemaProps, visit func(string, *apiextensionsv1.JSONSchemaProps)) {
	if s == nil {
		return
	}
	visit(path, s)
	keys := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := s.Properties[k]
		walkSchema(path+"."+k, &p, visit)
	}
	if s.Items != nil {
		walkSchema(path+"[]", s.Items.Schema, visit)
	}
	if s.AdditionalProperties != nil {
		walkSchema(path+"{}", s.AdditionalProperties.Schema, visit)
	}
}

func TestCRDValidationMarkers(t *testing.T) {
	crds := loadCRDs(t)
	find := func(kind, path string) *apiextensionsv1.JSONSchemaProps {
		t.Helper()
		var found *apiextensionsv1.JSONSchemaProps
		walkSchema(kind, crds[kind].Spec.Versions[0].Schema.OpenAPIV3Schema, func(p string, s *apiextensionsv1.JSONSchemaProps) {
			if p == kind+"."+path {
				found = s
			}
		})
		if found == nil {
			t.Fatalf("%s has no %s", kind, path)
		}
		return found
	}
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"ScaledObject triggers minItems 1", func(t *testing.T) {
			expect(t, "minItems", *find("ScaledObject", "spec.triggers").MinItems, int64(1))
		}},
		{"ScaledJob triggers minItems 1", func(t *testing.T) {
			expect(t, "minItems", *find("ScaledJob", "spec.triggers").MinItems, int64(1))
		}},
		{"scaleTargetRef.name minLength 1", func(t *testing.T) {
			expect(t, "minLength", *find("ScaledObject", "spec.scaleTargetRef.name").MinLength, int64(1))
		}},
		{"pollingInterval minimum 1", func(t *testing.T) {
			expect(t, "minimum", *find("ScaledObject", "spec.pollingInterval").Minimum, float64(1))
		}},
		{"maxReplicaCount minimum 1", func(t *testing.T) {
			expect(t, "minimum", *find("ScaledObject", "spec.maxReplicaCount").Minimum, float64(1))
		}},
		{"fallback behavior enum", func(t *testing.T) {
			expect(t, "enum values", len(find("ScaledObject", "spec.fallback.behavior").Enum), 5)
		}},
		{"scalingModifiers metricType enum", func(t *testing.T) {
			expect(t, "enum values", len(find("ScaledObject", "spec.advanced.scalingModifiers.metricType").Enum), 2)
		}},
		{"min <= max CEL rule", func(t *testing.T) {
			rules := find("ScaledObject", "spec").XValidations
			if len(rules) != 1 || !strings.Contains(rules[0].Rule, "self.minReplicaCount <=") {
				t.Errorf("x-kubernetes-validations = %v", rules)
			}
		}},
		{"pod identity provider enum", func(t *testing.T) {
			expect(t, "enum values", len(find("TriggerAuthentication", "spec.podIdentity.provider").Enum), 5)
		}},
		{"jobTargetRef keeps unknown fields", func(t *testing.T) {
			s := find("ScaledJob", "spec.jobTargetRef")
			if s.XPreserveUnknownFields == nil || !*s.XPreserveUnknownFields || s.Type != "object" {
				t.Errorf("jobTargetRef type %q, x-kubernetes-preserve-unknown-fields %v", s.Type, s.XPreserveUnknownFields)
			}
			if !contains(find("ScaledJob", "spec").Required, "jobTargetRef") {
				t.Error("jobTargetRef is not required")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}
