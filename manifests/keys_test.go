package manifests_test

import (
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	kedav1 "github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/scaler"
	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/external"
	"github.com/pushscale/pushscale/sources/kafka"
	"github.com/pushscale/pushscale/sources/natsjetstream"
	"github.com/pushscale/pushscale/sources/rabbitmq"
	"github.com/pushscale/pushscale/sources/redis"
	"github.com/pushscale/pushscale/sources/webhook"
	"github.com/pushscale/pushscale/store"
)

// notAValue is a metadata value no parser accepts as a number, a boolean,
// a name, an address or one of a list.
const notAValue = "\x00not a value"

// TestSampleMetadataKeysAreRead fails for a metadata key of a sample that
// its trigger's parser does not read: a misspelled optional key
// (listLenght) would otherwise be ignored in silence, leaving the default.
// A key is read when removing it changes the parsed configuration, or when
// a value no parser accepts makes the parse fail (a key set to its
// default changes nothing when removed).
func TestSampleMetadataKeysAreRead(t *testing.T) {
	mgr := newManager(t)
	samples := readSamples(t)
	if t.Failed() {
		t.FailNow() // decode errors: TestSamples reports the rest
	}
	for _, s := range samples {
		type owner struct {
			kind     store.Kind
			name     string
			triggers []kedav1.ScaleTrigger
		}
		var owners []owner
		for _, so := range s.scaledObjects {
			owners = append(owners, owner{store.ScaledObject, so.Name, so.Spec.Triggers})
		}
		for _, sj := range s.scaledJobs {
			owners = append(owners, owner{store.ScaledJob, sj.Name, sj.Spec.Triggers})
		}
		for _, o := range owners {
			for i, tr := range o.triggers {
				st := sources.Trigger{Key: store.Key{Owner: store.Owner{Kind: o.kind, Namespace: "default", Name: o.name}, Trigger: i}, Type: tr.Type}
				if tr.AuthenticationRef != nil {
					params, ca, err := s.resolveAuth(tr.AuthenticationRef, map[string]bool{})
					if err != nil {
						continue // TestSamples reports it
					}
					st.AuthParams, st.ClusterAuth = params, ca
				}
				md := withLocalScaler(t, tr)
				parse := func(m map[string]string) (any, error) {
					tr.Metadata, st.Metadata = m, m
					return parsed(mgr, tr, st)
				}
				want, err := parse(md)
				if err != nil {
					continue // TestSamples reports it
				}
				for _, k := range slices.Sorted(maps.Keys(md)) {
					without := maps.Clone(md)
					delete(without, k)
					got, err := parse(without)
					if err != nil || !reflect.DeepEqual(got, want) {
						continue
					}
					garbled := maps.Clone(md)
					garbled[k] = notAValue
					if _, err := parse(garbled); err != nil {
						continue
					}
					t.Errorf("%s: %s %s: spec.triggers[%d] (%s).metadata.%s: not read by the %s parser (misspelled?)",
						filepath.Base(s.file), o.kind, o.name, i, tr.Type, k, tr.Type)
				}
			}
		}
	}
}

// parsed is trigger tr (st, resolved) as the gateway parses it: the HPA
// metric of a cpu or memory trigger, otherwise its source's Config, or
// the Spec for a type this test does not know the Config parser of.
func parsed(mgr *sources.Manager, tr kedav1.ScaleTrigger, st sources.Trigger) (any, error) {
	if slices.Contains(scaler.ResourceTriggerTypes(), tr.Type) {
		return scaler.ResourceMetric(tr)
	}
	spec, err := mgr.Parse(st)
	if err != nil {
		return nil, err
	}
	if f, ok := configParsers()[st.Type]; ok {
		return f(st)
	}
	return spec, nil
}

// configParsers are the sources' Config parsers by trigger type: a Config
// shows what a key changed where the Spec (metric name, target) may not.
func configParsers() map[string]func(sources.Trigger) (any, error) {
	m := map[string]func(sources.Trigger) (any, error){
		webhook.Type:       anyConfig(webhook.ParseConfig),
		external.Type:      anyConfig(external.ParseConfig),
		external.TypePush:  anyConfig(external.ParseConfig),
		kafka.Type:         anyConfig(kafka.ParseConfig),
		natsjetstream.Type: anyConfig(natsjetstream.ParseConfig),
		rabbitmq.Type:      anyConfig(rabbitmq.ParseConfig),
	}
	for _, typ := range redis.Types {
		m[typ] = anyConfig(redis.ParseConfig)
	}
	return m
}

func anyConfig[C any](parse func(sources.Trigger) (C, error)) func(sources.Trigger) (any, error) {
	return func(t sources.Trigger) (any, error) { return parse(t) }
}
