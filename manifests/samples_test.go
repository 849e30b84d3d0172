// Package manifests_test keeps the samples in manifests/samples honest:
// every document decodes strictly into its Go type, every ScaledObject and
// ScaledJob passes the admission webhook, and every trigger parses with
// its TriggerAuthentication resolved from the sample's own Secrets, as the
// gateway would parse it (no broker is contacted), and every metadata key
// is one its parser reads (keys_test.go). A trigger type the gateway
// serves without a sample fails too.
package manifests_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/pushscale/pushscale/admission"
	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/gateway"
	"github.com/pushscale/pushscale/scaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/external"
	"github.com/pushscale/pushscale/sources/external/externaltest"
	"github.com/pushscale/pushscale/store"
)

// newManager builds the gateway's sources as gateway.Run builds them, with
// its default options (webhook triggers need authentication unless they
// open their stream). Building starts nothing; Parse contacts no broker.
func newManager(t *testing.T) *sources.Manager {
	t.Helper()
	mgr, err := sources.NewManager(gateway.Registry(gateway.Options{WebhookRequireAuth: true}), sources.ManagerOptions{Sink: store.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	return mgr
}

// withLocalScaler returns tr's metadata, with the scalerAddress of an
// external or external-push trigger pointed at an external scaler this
// test runs on loopback: their parser asks the scaler for the metric
// (GetMetricSpec), and a sample's scaler is nowhere to be reached.
func withLocalScaler(t *testing.T, tr kedav1.ScaleTrigger) map[string]string {
	t.Helper()
	if tr.Type != external.Type && tr.Type != external.TypePush {
		return tr.Metadata
	}
	if _, ok := tr.Metadata["scalerAddress"]; !ok {
		return tr.Metadata
	}
	md := maps.Clone(tr.Metadata)
	md["scalerAddress"] = externaltest.Start(t, externaltest.Options{MetricName: "jobs", Target: 1}).Addr()
	return md
}

// TestSamples checks every sample as the gateway would check it: the
// admission webhook's verdict on each ScaledObject and ScaledJob, then each
// trigger: cpu and memory as the controller makes their HPA metric, every
// other type through its source's parser, with its TriggerAuthentication
// or ClusterTriggerAuthentication resolved from the sample's own Secrets and
// ConfigMaps. Secrets and authentications nobody uses fail too: a sample
// shows what is needed, no more.
func TestSamples(t *testing.T) {
	mgr := newManager(t)
	for _, s := range readSamples(t) {
		t.Run(filepath.Base(s.file), func(t *testing.T) {
			if s.broken {
				t.Skip("a document does not decode: see the error above")
			}
			if len(s.scaledObjects)+len(s.scaledJobs) == 0 {
				t.Errorf("%s: no ScaledObject or ScaledJob", s.file)
			}
			used := map[string]bool{}
			for _, so := range s.scaledObjects {
				s.admit(t, kedav1.KindScaledObject, so.Name)
				s.checkTriggers(t, mgr, used, store.ScaledObject, so.Name, so.Spec.Triggers, so.Spec.PollingIntervalOrDefault())
			}
			for _, sj := range s.scaledJobs {
				s.admit(t, kedav1.KindScaledJob, sj.Name)
				s.checkTriggers(t, mgr, used, store.ScaledJob, sj.Name, sj.Spec.Triggers, sj.Spec.PollingIntervalOrDefault())
			}
			s.checkUsed(t, used)
		})
	}
}

// admit sends the object to the admission webhook's handler, as the
// kube-apiserver would on create, and fails with its message if refused.
func (s *sample) admit(t *testing.T, kind, name string) {
	t.Helper()
	review := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:       "sample",
			Kind:      metav1.GroupVersionKind{Group: kedav1.SchemeGroupVersion.Group, Version: kedav1.SchemeGroupVersion.Version, Kind: kind},
			Operation: admissionv1.Create,
			Name:      name,
			Namespace: "default",
			Object:    runtime.RawExtension{Raw: s.raw[kind+"/"+name]},
		},
	}
	body, err := json.Marshal(review)
	if err != nil {
		t.Fatal(err)
	}
	path := admission.ScaledObjectPath
	if kind == kedav1.KindScaledJob {
		path = admission.ScaledJobPath
	}
	rec := httptest.NewRecorder()
	admission.Handler{}.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("%s: %s %s: admission answered %d %q", s.file, kind, name, rec.Code, rec.Body.String())
	}
	if !out.Response.Allowed {
		msg := ""
		if out.Response.Result != nil {
			msg = out.Response.Result.Message
		}
		t.Errorf("%s: %s %s: refused by the admission webhook: %s", s.file, kind, name, msg)
	}
}

// checkTriggers parses every trigger of one ScaledObject or ScaledJob;
// used collects the authentications and Secrets they read.
func (s *sample) checkTriggers(t *testing.T, mgr *sources.Manager, used map[string]bool, kind store.Kind, name string, triggers []kedav1.ScaleTrigger, poll time.Duration) {
	t.Helper()
	for i, tr := range triggers {
		field := fmt.Sprintf("%s %s: spec.triggers[%d] (%s)", kind, name, i, tr.Type)
		for k := range tr.Metadata {
			if strings.HasSuffix(k, "FromEnv") {
				t.Errorf("%s: %s.metadata.%s: a sample cannot be checked against the scale target's environment: use a TriggerAuthentication", s.file, field, k)
			}
		}
		if slices.Contains(scaler.ResourceTriggerTypes(), tr.Type) {
			if kind == store.ScaledJob {
				continue // refused by admission already
			}
			if _, err := scaler.ResourceMetric(tr); err != nil {
				t.Errorf("%s: %s: %v", s.file, field, err)
			}
			continue
		}
		st := sources.Trigger{
			Key:  store.Key{Owner: store.Owner{Kind: kind, Namespace: "default", Name: name, UID: "sample"}, Trigger: i},
			Type: tr.Type, Name: tr.Name, Metadata: withLocalScaler(t, tr), PollingInterval: poll,
		}
		if ref := tr.AuthenticationRef; ref != nil {
			params, ca, err := s.resolveAuth(ref, used)
			if err != nil {
				t.Errorf("%s: %s.authenticationRef: %v", s.file, field, err)
				continue
			}
			st.AuthParams, st.ClusterAuth = params, ca
		}
		if _, err := mgr.Parse(st); err != nil {
			t.Errorf("%s: %s.metadata: %v", s.file, field, err)
		}
	}
}

// resolveAuth returns the parameters ref names, read from the sample's
// Secrets and ConfigMaps in KEDA's order (configMapTargetRef, then
// secretTargetRef, later ones overwriting), and, for a
// ClusterTriggerAuthentication, the target check the gateway applies by
// default (enforce). Other sources of parameters cannot be resolved
// without a cluster, and samples do not use them.
func (s *sample) resolveAuth(ref *kedav1.AuthenticationRef, used map[string]bool) (map[string]string, *sources.ClusterAuth, error) {
	var spec *kedav1.TriggerAuthenticationSpec
	var ca *sources.ClusterAuth
	secrets, configMaps := s.secrets, s.configMaps
	switch kind := ref.AuthenticationKindOrDefault(); kind {
	case kedav1.KindTriggerAuthentication:
		ta, ok := s.tas[ref.Name]
		if !ok {
			return nil, nil, fmt.Errorf("name %q: no TriggerAuthentication of that name in the sample", ref.Name)
		}
		spec = &ta.Spec
	case kedav1.KindClusterTriggerAuthentication:
		cta, ok := s.ctas[ref.Name]
		if !ok {
			return nil, nil, fmt.Errorf("name %q: no ClusterTriggerAuthentication of that name in the sample", ref.Name)
		}
		spec = &cta.Spec
		secrets, configMaps = s.clusterSecrets, s.clusterConfigMaps
		ca = &sources.ClusterAuth{
			Name:           cta.Name,
			AllowedTargets: sources.ParseAllowedTargets(cta.Annotations[sources.AllowedTargetsAnnotation]),
			Check:          sources.TargetCheckEnforce,
		}
	default:
		return nil, nil, fmt.Errorf("kind %q: must be TriggerAuthentication or ClusterTriggerAuthentication", ref.Kind)
	}
	used[ref.AuthenticationKindOrDefault()+"/"+ref.Name] = true
	if other := otherSources(spec); len(other) > 0 {
		return nil, nil, fmt.Errorf("%s %s: spec.%s: a sample uses only secretTargetRef and configMapTargetRef, which it can resolve itself", ref.AuthenticationKindOrDefault(), ref.Name, strings.Join(other, ", spec."))
	}
	params := map[string]string{}
	for _, refs := range []struct {
		kind string
		objs map[string]map[string]string
		refs []kedav1.AuthTargetRef
	}{{"ConfigMap", configMaps, spec.ConfigMapTargetRef}, {"Secret", secrets, spec.SecretTargetRef}} {
		field := "secretTargetRef"
		if refs.kind == "ConfigMap" {
			field = "configMapTargetRef"
		}
		for j, r := range refs.refs {
			obj, ok := refs.objs[r.Name]
			if !ok {
				return nil, nil, fmt.Errorf("%s %s: spec.%s[%d].name %q: no %s of that name in the sample (for a ClusterTriggerAuthentication, in namespace %s)",
					ref.AuthenticationKindOrDefault(), ref.Name, field, j, r.Name, refs.kind, clusterObjectNamespace)
			}
			used[refs.kind+"/"+r.Name] = true
			v, ok := obj[r.Key]
			if !ok {
				return nil, nil, fmt.Errorf("%s %s: spec.%s[%d].key %q: %s %s has no such key", ref.AuthenticationKindOrDefault(), ref.Name, field, j, r.Key, refs.kind, r.Name)
			}
			params[r.Parameter] = v
		}
	}
	return params, ca, nil
}

// otherSources names the fields of spec a sample cannot resolve: every
// source of parameters but secretTargetRef and configMapTargetRef.
func otherSources(spec *kedav1.TriggerAuthenticationSpec) []string {
	js, err := json.Marshal(spec)
	if err != nil {
		return []string{err.Error()}
	}
	var fields map[string]json.RawMessage
	_ = json.Unmarshal(js, &fields)
	var out []string
	for f := range fields {
		if f != "secretTargetRef" && f != "configMapTargetRef" {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// checkUsed fails for a Secret, ConfigMap or authentication of the sample
// that no trigger reads.
func (s *sample) checkUsed(t *testing.T, used map[string]bool) {
	t.Helper()
	for _, objs := range []struct {
		kind  string
		names []string
	}{
		{"Secret", keys(s.secrets, s.clusterSecrets)},
		{"ConfigMap", keys(s.configMaps, s.clusterConfigMaps)},
		{kedav1.KindTriggerAuthentication, keys(s.tas)},
		{kedav1.KindClusterTriggerAuthentication, keys(s.ctas)},
	} {
		for _, name := range objs.names {
			if !used[objs.kind+"/"+name] {
				t.Errorf("%s: %s %s: not used by any trigger of the sample", s.file, objs.kind, name)
			}
		}
	}
}

func keys[V any](maps ...map[string]V) []string {
	var out []string
	for _, m := range maps {
		for k := range m {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestSamplesCoverEveryTriggerType fails for a trigger type the gateway
// serves (its sources' registry, and the controller's cpu and memory) that
// no sample uses, and when no sample shows a ScaledJob or a
// ClusterTriggerAuthentication: a new trigger type comes with its sample.
func TestSamplesCoverEveryTriggerType(t *testing.T) {
	samples := readSamples(t)
	if t.Failed() {
		t.FailNow() // a sample that does not decode would show as missing
	}
	have := map[string][]string{}
	var scaledJobs, ctas int
	for _, s := range samples {
		for _, so := range s.scaledObjects {
			for _, tr := range so.Spec.Triggers {
				have[tr.Type] = append(have[tr.Type], filepath.Base(s.file))
			}
		}
		for _, sj := range s.scaledJobs {
			for _, tr := range sj.Spec.Triggers {
				have[tr.Type] = append(have[tr.Type], filepath.Base(s.file))
			}
		}
		scaledJobs += len(s.scaledJobs)
		ctas += len(s.ctas)
	}
	served := append(newManager(t).Types(), scaler.ResourceTriggerTypes()...)
	for _, typ := range served {
		if len(have[typ]) == 0 {
			t.Errorf("trigger type %q is served by the gateway but no file in manifests/samples uses it: add %s.yaml", typ, typ)
		}
	}
	for typ, files := range have {
		if !slices.Contains(served, typ) {
			t.Errorf("%s: trigger type %q is not served by the gateway", strings.Join(files, ", "), typ)
		}
	}
	if scaledJobs == 0 {
		t.Error("no sample shows a ScaledJob")
	}
	if ctas == 0 {
		t.Error("no sample shows a ClusterTriggerAuthentication")
	}
}
