package sources_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/store"
)

// journal records, in order, what Endpoints did to endpoints and to the
// Schedule.
type journal struct {
	mu  sync.Mutex
	log []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	j.log = append(j.log, s)
	j.mu.Unlock()
}

func (j *journal) take() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	out := j.log
	j.log = nil
	return out
}

type fakeEndpoint struct {
	j       *journal
	id      string
	running chan struct{} // closed when Run starts
}

func (e *fakeEndpoint) Run(ctx context.Context) {
	e.j.add("run " + e.id)
	close(e.running)
	<-ctx.Done()
	e.j.add("run returned " + e.id)
}
func (e *fakeEndpoint) Close()                 { e.j.add("close " + e.id) }
func (e *fakeEndpoint) Add(r *fakeResource)    { e.j.add("add " + r.id.Name) }
func (e *fakeEndpoint) Remove(r *fakeResource) { e.j.add("remove " + r.id.Name) }

type fakeResource struct{ id sources.ResourceID }

func (r *fakeResource) Read(context.Context) (float64, error) { return 1, nil }

// fakeSchedule journals Attach and Detach; the push-path calls are unused.
type fakeSchedule struct{ j *journal }

func (s fakeSchedule) Attach(id sources.ResourceID, _ sources.ReadFunc, a sources.Attachment) {
	s.j.add("attach " + a.Key.Owner.Name + " " + id.Name)
}
func (s fakeSchedule) Detach(k store.Key) (sources.ResourceID, bool) {
	s.j.add("detach " + k.Owner.Name)
	return sources.ResourceID{}, false
}
func (fakeSchedule) Hint(sources.ResourceID, bool)      {}
func (fakeSchedule) Reconnected(string)                 {}
func (fakeSchedule) SetPush(string, string, store.Push) {}

type pool = sources.Endpoints[*fakeEndpoint, *fakeResource]

func newPool() (*pool, *journal, map[string]*fakeEndpoint) {
	j := &journal{}
	return sources.NewEndpoints[*fakeEndpoint, *fakeResource](fakeSchedule{j}), j, map[string]*fakeEndpoint{}
}

func bind(j *journal, made map[string]*fakeEndpoint, ep, res string) sources.Binding[*fakeEndpoint, *fakeResource] {
	return sources.Binding[*fakeEndpoint, *fakeResource]{
		Endpoint: ep,
		NewEndpoint: func() (*fakeEndpoint, error) {
			j.add("new endpoint " + ep)
			e := &fakeEndpoint{j: j, id: ep, running: make(chan struct{})}
			made[ep] = e
			return e, nil
		},
		Resource: res,
		NewResource: func(_ *fakeEndpoint, id sources.ResourceID) *fakeResource {
			j.add("new resource " + id.Endpoint + "/" + id.Name)
			return &fakeResource{id: id}
		},
	}
}

func attOf(name string) sources.Attachment {
	return sources.Attachment{Key: store.Key{Owner: store.Owner{Kind: store.ScaledObject, Namespace: "ns", Name: name, UID: types.UID(name)}}}
}

func expectLog(t *testing.T, j *journal, want ...string) {
	t.Helper()
	if got := j.take(); !slices.Equal(got, want) {
		t.Errorf("journal:\n got %q\nwant %q", got, want)
	}
}

// startPool runs p.Start; the returned function stops it and waits.
func startPool(t *testing.T, p *pool) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Start(ctx) }()
	return func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Start = %v", err)
			}
		case <-time.After(sourcetest.WaitTimeout):
			t.Fatal("Start did not return")
		}
	}
}

func TestEndpointsShareAndRelease(t *testing.T) {
	p, j, made := newPool()
	mustOK(t, p.Watch(attOf("a"), bind(j, made, "ep1", "q")))
	expectLog(t, j, "new endpoint ep1", "new resource ep1/q", "attach a q", "add q")
	mustOK(t, p.Watch(attOf("b"), bind(j, made, "ep1", "q")))
	expectLog(t, j, "attach b q") // shared: nothing new
	mustOK(t, p.Watch(attOf("b"), bind(j, made, "ep1", "q")))
	expectLog(t, j, "attach b q") // again: the attachment is updated

	mustOK(t, p.Watch(attOf("b"), bind(j, made, "ep1", "other")))
	expectLog(t, j, "detach b", "new resource ep1/other", "attach b other", "add other")
	p.Unwatch(attOf("b").Key)
	expectLog(t, j, "detach b", "remove other") // the endpoint stays for a
	p.Unwatch(attOf("b").Key)
	expectLog(t, j) // unknown keys are ignored

	mustOK(t, p.Watch(attOf("a"), bind(j, made, "ep2", "q")))
	expectLog(t, j, "detach a", "remove q", "new endpoint ep2", "new resource ep2/q", "attach a q", "add q", "close ep1")
	p.Unwatch(attOf("a").Key)
	expectLog(t, j, "detach a", "remove q", "close ep2")
}

func TestEndpointsRunFromStartOrFirstWatch(t *testing.T) {
	p, j, made := newPool()
	mustOK(t, p.Watch(attOf("a"), bind(j, made, "ep1", "q")))
	j.take()
	stop := startPool(t, p)
	waitClosed(t, made["ep1"].running)
	mustOK(t, p.Watch(attOf("b"), bind(j, made, "ep2", "q")))
	waitClosed(t, made["ep2"].running)
	p.Unwatch(attOf("b").Key)
	log := j.take()
	if i, k := slices.Index(log, "run returned ep2"), slices.Index(log, "close ep2"); i < 0 || k < i {
		t.Errorf("the last Unwatch must end Run before Close: %q", log)
	}
	stop()
	expectLog(t, j, "run returned ep1", "detach a", "close ep1")
	if err := p.Watch(attOf("c"), bind(j, made, "ep3", "q")); !errors.Is(err, sources.ErrStopped) {
		t.Errorf("Watch after Start returned: %v, want ErrStopped", err)
	}
	expectLog(t, j)
}

func TestEndpointsNewEndpointError(t *testing.T) {
	p, j, made := newPool()
	mustOK(t, p.Watch(attOf("a"), bind(j, made, "ep1", "q")))
	j.take()
	bad := bind(j, made, "ep2", "q")
	bad.NewEndpoint = func() (*fakeEndpoint, error) { return nil, errors.New("bad tls") }
	if err := p.Watch(attOf("a"), bad); err == nil || err.Error() != "bad tls" {
		t.Fatalf("Watch = %v", err)
	}
	expectLog(t, j, "detach a", "remove q", "close ep1")
	mustOK(t, p.Watch(attOf("a"), bind(j, made, "ep1", "q")))
	expectLog(t, j, "new endpoint ep1", "new resource ep1/q", "attach a q", "add q")
}

func TestEndpointsHash(t *testing.T) {
	p, _, _ := newPool()
	q, _, _ := newPool()
	const secret = "hunter2-password"
	h := p.Hash(secret)
	if strings.Contains(h, secret) || h != p.Hash(secret) || h == p.Hash("other") || h == q.Hash(secret) {
		t.Errorf("Hash: %q (same source %q, other secret %q, other source %q)", h, p.Hash(secret), p.Hash("other"), q.Hash(secret))
	}
	if p.Hash("") != "none" {
		t.Errorf("Hash(\"\") = %q", p.Hash(""))
	}
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitClosed(t *testing.T, c chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(sourcetest.WaitTimeout):
		t.Fatal("Run did not start")
	}
}
