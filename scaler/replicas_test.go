package scaler

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestReplicasPatch applies the conditional /scale patch the way the
// apiserver does (the same JSON patch library) to Scales as they are
// serialized: it sets the count only when the Scale holds from.
func TestReplicasPatch(t *testing.T) {
	scale := func(n int32) []byte {
		b, err := json.Marshal(autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: n}})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name           string
		have, from, to int32
		ok             bool
	}{
		{"0 to 1", 0, 0, 1, true},
		{"0 to 3 (minReplicaCount)", 0, 0, 3, true},
		{"from 0 but someone scaled to 2", 2, 0, 1, false},
		{"1 to 0", 1, 1, 0, true},
		{"from 1 but it is 0", 0, 1, 0, false},
		{"from 4 but it is 5", 5, 4, 0, false},
	} {
		p, err := jsonpatch.DecodePatch(replicasPatch(tc.from, tc.to))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		out, err := p.Apply(scale(tc.have))
		if !tc.ok {
			if err == nil {
				t.Errorf("%s: the patch applied to a Scale at %d: %s", tc.name, tc.have, out)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got autoscalingv1.Scale
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Replicas != tc.to {
			t.Errorf("%s: replicas %d, want %d", tc.name, got.Spec.Replicas, tc.to)
		}
	}
}

// TestPatchNotApplied: only the apiserver's answer to a JSON patch whose
// test failed means "the count changed"; a validation error of the target
// (422 naming its kind) and any other error are real failures, whatever
// their text says (a target named test-api once turned every error into a
// quiet retry).
func TestPatchNotApplied(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"test failed", apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "", schema.GroupResource{}, "",
			"testing value /spec/replicas failed: test failed", 0, false), true},
		{"validation of the target", apierrors.NewInvalid(schema.GroupKind{Group: "apps", Kind: "Deployment"}, "test-api",
			field.ErrorList{field.Invalid(field.NewPath("spec", "replicas"), -1, "must be greater than or equal to 0")}), false},
		{"not found, named test-api", apierrors.NewNotFound(gr, "test-api"), false},
		{"forbidden, named test-api", apierrors.NewForbidden(gr, "test-api", errors.New("test")), false},
		{"a network error mentioning test", errors.New(`dial tcp: lookup test-api: no such host`), false},
		{"nil", nil, false},
	} {
		if got := patchNotApplied(tc.err); got != tc.want {
			t.Errorf("%s: patchNotApplied = %v, want %v", tc.name, got, tc.want)
		}
	}
}
