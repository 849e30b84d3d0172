package sourcetest

import (
	"errors"
	"testing"
	"time"

	"github.com/pushscale/pushscale/store"
)

func TestSink(t *testing.T) {
	k := store.Key{Owner: store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: "a"}}
	other := k
	other.Trigger = 1
	s := NewSink()
	if _, ok := s.Last(k); ok {
		t.Fatal("Last of an empty sink")
	}
	at := time.Unix(100, 0)
	s.Record(k, 1, at)
	s.SetPush(k, store.Push{Healthy: true, Reason: "Subscribed"})
	s.Record(other, 5, at)
	s.Fail(k, errors.New("boom"))
	s.Record(k, 2, at)

	if c, ok := s.Last(k); !ok || c.Value != 2 || c.Op != OpRecord || !c.At.Equal(at) {
		t.Errorf("Last = %v, %v", c, ok)
	}
	if p, ok := s.Push(k); !ok || p.Reason != "Subscribed" {
		t.Errorf("Push = %v, %v", p, ok)
	}
	if got := s.Records(k); len(got) != 2 || got[0] != 1 || got[1] != 2 {
		t.Errorf("Records = %v", got)
	}
	if n := len(s.Calls()); n != 5 {
		t.Errorf("%d calls, want 5", n)
	}
	if late := s.Late(); len(late) != 0 {
		t.Errorf("Late before Seal: %v", late)
	}
	s.Seal()
	s.Record(k, 3, at)
	if late := s.Late(); len(late) != 1 || late[0].Value != 3 {
		t.Errorf("Late = %v", late)
	}
	s.Reset()
	if s.Len() != 0 {
		t.Errorf("Len after Reset = %d", s.Len())
	}
}

func TestSinkAwait(t *testing.T) {
	k := store.Key{Owner: store.Owner{Kind: store.ScaledJob, Namespace: "ns", Name: "j"}}
	s := NewSink()
	go func() {
		for i := range 5 {
			s.Record(k, float64(i), time.Time{})
		}
	}()
	s.AwaitValue(t, k, 4)
}
