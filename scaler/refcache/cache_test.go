package refcache

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	apiwatch "k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// harness is a Cache on a fake clientset, recording OnChange calls and
// the watches the fake has opened.
type harness struct {
	t       *testing.T
	client  *fake.Clientset
	cache   *Cache
	mu      sync.Mutex
	changes map[Owner]int
	watches chan string // resource of each Watch call
}

func newHarness(t *testing.T, objs ...runtime.Object) *harness {
	h := &harness{t: t, client: fake.NewClientset(objs...), changes: map[Owner]int{}, watches: make(chan string, 100)}
	h.client.PrependWatchReactor("*", func(a k8stesting.Action) (bool, apiwatch.Interface, error) {
		h.watches <- a.GetResource().Resource
		return false, nil, nil
	})
	h.cache = New(Options{Client: h.client, SyncTimeout: 10 * time.Second, OnChange: func(o Owner) {
		h.mu.Lock()
		h.changes[o]++
		h.mu.Unlock()
	}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- h.cache.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return h
}

// watchOpened waits until the fake has served a Watch (events before it
// would be lost: the fake ignores resourceVersion).
func (h *harness) watchOpened() {
	h.t.Helper()
	select {
	case <-h.watches:
	case <-time.After(10 * time.Second):
		h.t.Fatal("no watch was opened")
	}
}

func (h *harness) waitChanges(o Owner, n int) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		got := h.changes[o]
		h.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("owner %v: %d changes, want %d", o, got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *harness) reads() int {
	n := 0
	for _, a := range h.client.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" {
			n++
		}
	}
	return n
}

func secret(ns, name, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: value}, Data: map[string][]byte{"password": []byte(value)}}
}

var (
	ownerA = Owner{Kind: "ScaledObject", Namespace: "ns", Name: "a"}
	ownerB = Owner{Kind: "ScaledObject", Namespace: "ns", Name: "b"}
)

func TestRepeatedReadsMakeNoRequest(t *testing.T) {
	h := newHarness(t, secret("ns", "auth", "one"), secret("ns", "other", "x"))
	ctx := context.Background()
	for i := range 5 {
		r := h.cache.Reader(ownerA)
		s, err := r.Secret(ctx, "ns", "auth")
		if err != nil {
			t.Fatal(err)
		}
		if string(s.Data["password"]) != "one" {
			t.Fatalf("read %d: %q", i, s.Data["password"])
		}
		r.Close()
	}
	if got := h.reads(); got != 1 {
		t.Fatalf("%d get/list requests for 5 reads, want 1 (the watch's first list)", got)
	}
	if got := h.cache.Watches(); got != 1 {
		t.Fatalf("%d watches, want 1", got)
	}
}

func TestChangeTellsEveryOwner(t *testing.T) {
	h := newHarness(t, secret("ns", "auth", "one"))
	ctx := context.Background()
	for _, o := range []Owner{ownerA, ownerB} {
		r := h.cache.Reader(o)
		if _, err := r.Secret(ctx, "ns", "auth"); err != nil {
			t.Fatal(err)
		}
		r.Close()
	}
	h.watchOpened()
	if _, err := h.client.CoreV1().Secrets("ns").Update(ctx, secret("ns", "auth", "two"), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitChanges(ownerA, 1)
	h.waitChanges(ownerB, 1)
	r := h.cache.Reader(ownerA)
	s, err := r.Secret(ctx, "ns", "auth")
	if err != nil || string(s.Data["password"]) != "two" {
		t.Fatalf("after the update: %v %v", s, err)
	}
	r.Close()
	// Another object in the namespace is none of their business.
	if _, err := h.client.CoreV1().Secrets("ns").Create(ctx, secret("ns", "unrelated", "z"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := h.client.CoreV1().Secrets("ns").Delete(ctx, "auth", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitChanges(ownerA, 2)
	h.mu.Lock()
	got := h.changes[ownerA]
	h.mu.Unlock()
	if got != 2 {
		t.Fatalf("owner a told %d times, want 2 (update, delete)", got)
	}
	r = h.cache.Reader(ownerA)
	if _, err := r.Secret(ctx, "ns", "auth"); !apierrors.IsNotFound(err) {
		t.Fatalf("after the delete: %v, want NotFound", err)
	}
	r.Close()
}

func TestMissingThenCreatedHeals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	r := h.cache.Reader(ownerA)
	if _, err := r.ConfigMap(ctx, "ns", "settings"); !apierrors.IsNotFound(err) {
		t.Fatalf("got %v, want NotFound", err)
	}
	r.Close()
	h.watchOpened()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "settings"}, Data: map[string]string{"host": "h"}}
	if _, err := h.client.CoreV1().ConfigMaps("ns").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitChanges(ownerA, 1)
	r = h.cache.Reader(ownerA)
	got, err := r.ConfigMap(ctx, "ns", "settings")
	if err != nil || got.Data["host"] != "h" {
		t.Fatalf("after the create: %v %v", got, err)
	}
	r.Close()
}

func TestWatchStopsWhenNobodyReferences(t *testing.T) {
	h := newHarness(t, secret("ns", "one", "1"), secret("ns", "two", "2"))
	ctx := context.Background()
	read := func(o Owner, names ...string) {
		t.Helper()
		r := h.cache.Reader(o)
		for _, n := range names {
			if _, err := r.Secret(ctx, "ns", n); err != nil {
				t.Fatal(err)
			}
		}
		r.Close()
	}
	read(ownerA, "one", "two")
	read(ownerB, "two")
	if got := h.cache.Watches(); got != 2 {
		t.Fatalf("%d watches, want 2", got)
	}
	read(ownerA, "two") // a no longer reads "one"
	if got := h.cache.Watches(); got != 1 {
		t.Fatalf("%d watches after a let go of one, want 1", got)
	}
	h.cache.Forget(ownerA)
	if got := h.cache.Watches(); got != 1 {
		t.Fatalf("%d watches while b still reads two, want 1", got)
	}
	read(ownerB) // b reads nothing any more
	if got := h.cache.Watches(); got != 0 {
		t.Fatalf("%d watches, want 0", got)
	}
}

func TestNotSyncedNamesTheErrorAndTellsLater(t *testing.T) {
	h := newHarness(t)
	h.cache.opts.SyncTimeout = 200 * time.Millisecond
	var mu sync.Mutex
	deny := true
	h.client.PrependReactor("list", "secrets", func(k8stesting.Action) (bool, runtime.Object, error) {
		mu.Lock()
		defer mu.Unlock()
		if deny {
			return true, nil, apierrors.NewForbidden(corev1.Resource("secrets"), "", nil)
		}
		return false, nil, nil
	})
	r := h.cache.Reader(ownerA)
	_, err := r.Secret(context.Background(), "ns", "auth")
	if !errors.Is(err, ErrNotSynced) || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("got %v, want not synced with the list error", err)
	}
	r.Close()
	mu.Lock()
	deny = false
	mu.Unlock()
	// The reflector retries (backoff starts at 800 ms) and, once synced,
	// tells the owner whose read gave up.
	h.waitChanges(ownerA, 1)
}
