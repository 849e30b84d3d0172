package manifests_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	kjson "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
)

// This file reads manifests/samples: every document decoded strictly into
// its Go type, grouped by file. samples_test.go checks what it read.

const samplesDir = "samples"

// clusterObjectNamespace is where ClusterTriggerAuthentications read their
// Secrets: --cluster-object-namespace as manifests/gateway deploys it.
const clusterObjectNamespace = "pushscale-system"

// sample is one file of manifests/samples, decoded.
type sample struct {
	file string
	// secrets and configMaps are the namespace-less ones (the user's
	// namespace, read by TriggerAuthentications); clusterSecrets and
	// clusterConfigMaps those in clusterObjectNamespace (read by
	// ClusterTriggerAuthentications).
	secrets, clusterSecrets       map[string]map[string]string
	configMaps, clusterConfigMaps map[string]map[string]string
	tas                           map[string]*kedav1.TriggerAuthentication
	ctas                          map[string]*kedav1.ClusterTriggerAuthentication
	scaledObjects                 []*kedav1.ScaledObject
	scaledJobs                    []*kedav1.ScaledJob
	// broken is set when a document did not decode (already reported):
	// its other checks would only repeat the error.
	broken bool
	// raw holds each ScaledObject's and ScaledJob's document as JSON, by
	// "<kind>/<name>", for the admission webhook.
	raw map[string][]byte
}

// readSamples decodes every file of manifests/samples; a document that
// does not decode strictly fails the test, naming the file and the field.
func readSamples(t *testing.T) []*sample {
	t.Helper()
	entries, err := os.ReadDir(samplesDir)
	if err != nil {
		t.Fatal(err)
	}
	var out []*sample
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".yaml") {
			t.Errorf("%s/%s: not a .yaml file: samples are YAML files, one per trigger type or feature", samplesDir, e.Name())
			continue
		}
		out = append(out, readSample(t, filepath.Join(samplesDir, e.Name())))
	}
	if len(out) == 0 {
		t.Fatalf("no samples in %s", samplesDir)
	}
	return out
}

func readSample(t *testing.T, file string) *sample {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	s := &sample{
		file:    file,
		secrets: map[string]map[string]string{}, clusterSecrets: map[string]map[string]string{},
		configMaps: map[string]map[string]string{}, clusterConfigMaps: map[string]map[string]string{},
		tas: map[string]*kedav1.TriggerAuthentication{}, ctas: map[string]*kedav1.ClusterTriggerAuthentication{},
		raw: map[string][]byte{},
	}
	dec := newStrictDecoder(t)
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	for n := 1; ; n++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", file, n, err)
		}
		if err := s.add(dec, doc); err != nil {
			t.Errorf("%s: document %d: %v", file, n, err)
			s.broken = true
		}
	}
	return s
}

// newStrictDecoder decodes YAML as the kube-apiserver's strict field
// validation does: an unknown field, a field spelled in another case
// (coolDownPeriod) and a duplicate field are errors that name the field.
func newStrictDecoder(t *testing.T) runtime.Decoder {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := kedav1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return kjson.NewSerializerWithOptions(kjson.DefaultMetaFactory, scheme, scheme, kjson.SerializerOptions{Yaml: true, Strict: true})
}

// add decodes one document into s.
func (s *sample) add(dec runtime.Decoder, doc []byte) error {
	js, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	if t := strings.TrimSpace(string(js)); t == "null" || t == "{}" {
		return nil // comments only
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		return err
	}
	var obj interface {
		runtime.Object
		metav1.Object
	}
	switch tm.GroupVersionKind() {
	case corev1.SchemeGroupVersion.WithKind("Secret"):
		obj = &corev1.Secret{}
	case corev1.SchemeGroupVersion.WithKind("ConfigMap"):
		obj = &corev1.ConfigMap{}
	case kedav1.SchemeGroupVersion.WithKind(kedav1.KindScaledObject):
		obj = &kedav1.ScaledObject{}
	case kedav1.SchemeGroupVersion.WithKind(kedav1.KindScaledJob):
		obj = &kedav1.ScaledJob{}
	case kedav1.SchemeGroupVersion.WithKind(kedav1.KindTriggerAuthentication):
		obj = &kedav1.TriggerAuthentication{}
	case kedav1.SchemeGroupVersion.WithKind(kedav1.KindClusterTriggerAuthentication):
		obj = &kedav1.ClusterTriggerAuthentication{}
	default:
		return fmt.Errorf("apiVersion %q kind %q: a sample holds Secrets, ConfigMaps and keda.sh/v1alpha1 objects only", tm.APIVersion, tm.Kind)
	}
	if _, _, err := dec.Decode(doc, nil, obj); err != nil {
		return fmt.Errorf("%s: %w", tm.Kind, err)
	}
	what := tm.Kind + " " + obj.GetName()
	if obj.GetName() == "" {
		return fmt.Errorf("%s: metadata.name: required", tm.Kind)
	}
	ns := obj.GetNamespace()
	cluster := ns == clusterObjectNamespace && (tm.Kind == "Secret" || tm.Kind == "ConfigMap")
	if ns != "" && !cluster {
		return fmt.Errorf("%s: metadata.namespace %q: samples are namespace-less (the user picks the namespace); only a ClusterTriggerAuthentication's Secrets and ConfigMaps name one, %s", what, ns, clusterObjectNamespace)
	}
	switch o := obj.(type) {
	case *corev1.Secret:
		vals := map[string]string{}
		for k, v := range o.Data {
			vals[k] = string(v)
		}
		for k, v := range o.StringData { // as the apiserver merges them
			vals[k] = v
		}
		if cluster {
			s.clusterSecrets[o.Name] = vals
		} else {
			s.secrets[o.Name] = vals
		}
	case *corev1.ConfigMap:
		if cluster {
			s.clusterConfigMaps[o.Name] = o.Data
		} else {
			s.configMaps[o.Name] = o.Data
		}
	case *kedav1.TriggerAuthentication:
		s.tas[o.Name] = o
	case *kedav1.ClusterTriggerAuthentication:
		s.ctas[o.Name] = o
	case *kedav1.ScaledObject:
		s.scaledObjects = append(s.scaledObjects, o)
		s.raw[tm.Kind+"/"+o.Name] = js
	case *kedav1.ScaledJob:
		s.scaledJobs = append(s.scaledJobs, o)
		s.raw[tm.Kind+"/"+o.Name] = js
	}
	return nil
}
