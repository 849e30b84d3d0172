package sourcetest

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pushscale/pushscale/sources"
)

// FuzzConfig fuzzes a source's config parser: each input replaces one
// metadata key of base (named by the input, among base's keys and the
// extra ones) with a fuzzed value, and sets the same value as that key's
// TriggerAuthentication parameter. parse must not panic, and its error must
// not show a value of base's AuthParams (each is taken as a secret: give
// only secrets there). Seeds: every key with an empty
// and a huge value.
func FuzzConfig[C any](f *testing.F, base sources.Trigger, parse func(sources.Trigger) (C, error), extra ...string) {
	keys := slices.Sorted(maps.Keys(base.Metadata))
	keys = append(keys, extra...)
	for _, k := range keys {
		f.Add(k, "")
		f.Add(k, strings.Repeat("9", 400))
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		tr := base
		tr.Metadata = maps.Clone(base.Metadata)
		tr.AuthParams = maps.Clone(base.AuthParams)
		if tr.AuthParams == nil {
			tr.AuthParams = map[string]string{}
		}
		tr.Metadata[key] = value
		tr.AuthParams[key] = value
		_, err := parse(tr)
		if err == nil {
			return
		}
		for _, secret := range base.AuthParams {
			if len(secret) >= 4 && strings.Contains(err.Error(), secret) {
				t.Errorf("error shows a secret: %v", err)
			}
		}
	})
}
