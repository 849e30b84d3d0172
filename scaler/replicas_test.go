package scaler

import (
	"encoding/json"
	"testing"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
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
