package kafka

import (
	"maps"
	"slices"
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

// TestReconcilePausesActivePartitions: a partition is fetched while some
// resource counting it is idle, paused while all are active, and dropped
// when none counts it.
func TestReconcilePausesActivePartitions(t *testing.T) {
	s := New(sourcetest.NewDeps(t, sourcetest.NewSink()), Options{})
	c := mustConfig(t, kafkaTrigger(keyA, "127.0.0.1:1", nil, idle))
	e, err := newEndpoint(s, "ep", c, false)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	a := e.newResource(sources.ResourceID{Endpoint: "ep", Name: "a"}, c)
	b := e.newResource(sources.ResourceID{Endpoint: "ep", Name: "b"}, c)
	e.Add(a)
	e.Add(b)
	p0, p1 := tp{"orders", 0}, tp{"orders", 1}
	st := partitionState{fetched: map[tp]bool{}, paused: map[tp]bool{}}
	check := func(what string, fetched, paused []tp) {
		t.Helper()
		e.reconcile(&st)
		if got := slices.SortedFunc(maps.Keys(st.fetched), cmpTP); !slices.Equal(got, fetched) {
			t.Errorf("%s: fetched %v, want %v", what, got, fetched)
		}
		if got := slices.SortedFunc(maps.Keys(st.paused), cmpTP); !slices.Equal(got, paused) {
			t.Errorf("%s: paused %v, want %v", what, got, paused)
		}
		client := map[tp]bool{}
		for topic, ps := range e.cl.PauseFetchPartitions(nil) {
			for _, p := range ps {
				client[tp{topic, p}] = true
			}
		}
		if got := slices.SortedFunc(maps.Keys(client), cmpTP); !slices.Equal(got, paused) {
			t.Errorf("%s: the client has %v paused, want %v", what, got, paused)
		}
	}
	e.noteRead(a, map[tp]offsets{p0: {0, 5}, p1: {0, 7}}, nil, false)
	check("a idle", []tp{p0, p1}, nil)
	e.noteRead(a, map[tp]offsets{p0: {0, 5}, p1: {0, 7}}, nil, true)
	check("a active", []tp{p0, p1}, []tp{p0, p1})
	e.noteRead(b, map[tp]offsets{p1: {7, 7}}, nil, false)
	check("b idle on p1", []tp{p0, p1}, []tp{p0})
	e.Remove(a)
	check("a gone", []tp{p1}, nil)
	e.Remove(b)
	check("b gone", nil, nil)
}

func cmpTP(x, y tp) int {
	if x.topic != y.topic {
		if x.topic < y.topic {
			return -1
		}
		return 1
	}
	return int(x.part - y.part)
}
