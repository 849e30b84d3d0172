package gateway

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
	"github.com/pushscale/pushscale/sources/webhook"
)

const levelsNS = "pushscale-system"

func levelsDoc(name, label, data string) *corev1.ConfigMap {
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: levelsNS},
		Data:       map[string]string{levelsKey: data},
	}
	if label != "" {
		cm.Labels = map[string]string{levelsLabel: label}
	}
	return cm
}

func newTestSaver(t *testing.T, objs ...runtime.Object) (*levelSaver, *fake.Clientset) {
	t.Helper()
	kube := fake.NewClientset(objs...)
	l := newLevelSaver(kube, levelsNS, time.Millisecond, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	return l, kube
}

// TestLoadSkipsUnreadableDocuments: a corrupt document (or one holding
// another namespace's levels) costs only its own levels, with a Warning
// Event and the load-errors metric; before, it stopped the start forever.
func TestLoadSkipsUnreadableDocuments(t *testing.T) {
	good := levelsDoc(levelsName("a"), "a", `[{"Namespace":"a","Stream":"s","Value":3}]`)
	corrupt := levelsDoc(levelsName("b"), "b", `[{"Namespace":"b",`)
	foreign := levelsDoc(levelsName("c"), "c", `[{"Namespace":"a","Stream":"t","Value":9}]`)
	l, kube := newTestSaver(t, good, corrupt, foreign)
	levels, err := l.load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(levels) != 1 || levels[0].Namespace != "a" || levels[0].Stream != "s" || levels[0].Value != 3 {
		t.Errorf("levels %+v, want only a/s=3", levels)
	}
	if got := testutil.ToFloat64(l.loadErrors); got != 2 {
		t.Errorf("load errors %g, want 2", got)
	}
	evs, _ := kube.CoreV1().Events(levelsNS).List(context.Background(), metav1.ListOptions{})
	reasons := map[string]string{}
	for _, e := range evs.Items {
		reasons[e.InvolvedObject.Name] = e.Reason + "/" + e.Type
	}
	for _, cm := range []string{corrupt.Name, foreign.Name} {
		if reasons[cm] != "WebhookLevelsUnreadable/Warning" {
			t.Errorf("events %v: none for %s", reasons, cm)
		}
	}
}

// TestLoadListFailureIsReturned: a failed list (forbidden) is an error to
// retry, not "no levels".
func TestLoadListFailureIsReturned(t *testing.T) {
	l, kube := newTestSaver(t)
	kube.PrependReactor("list", "configmaps", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), "", nil)
	})
	if _, err := l.load(context.Background()); err == nil || !strings.Contains(err.Error(), "forbidden") {
		t.Fatalf("load: %v, want the forbidden list", err)
	}
}

// TestSavePerNamespace: each namespace's levels go to its own document;
// a namespace left without levels loses its document; the legacy single
// document is read once and deleted by the first save.
func TestSavePerNamespace(t *testing.T) {
	legacy := levelsDoc(legacyLevels, "", `[{"Namespace":"old","Stream":"q","Value":2},{"Namespace":"a","Stream":"stale","Value":1}]`)
	l, kube := newTestSaver(t, legacy, levelsDoc(levelsName("a"), "a", `[{"Namespace":"a","Stream":"s","Value":3}]`))
	ctx := context.Background()
	levels, err := l.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// a's own document wins over the legacy one; old comes from the legacy.
	got := map[string]float64{}
	for _, lv := range levels {
		got[lv.Namespace+"/"+lv.Stream] = lv.Value
	}
	if len(got) != 2 || got["a/s"] != 3 || got["old/q"] != 2 {
		t.Fatalf("levels %v, want a/s=3 and old/q=2", got)
	}

	hook := webhook.New(sourcetest.NewSink(), webhook.Options{})
	hook.Restore([]webhook.Level{
		{Namespace: "a", Stream: "s", Value: 5},
		{Namespace: "b", Stream: "x", Value: 1},
		{Namespace: "b", Stream: "y", Value: 2},
	})
	l.source = hook
	if err := l.save(ctx); err != nil {
		t.Fatal(err)
	}
	cms, _ := kube.CoreV1().ConfigMaps(levelsNS).List(ctx, metav1.ListOptions{})
	docs := map[string]*corev1.ConfigMap{}
	for i := range cms.Items {
		docs[cms.Items[i].Name] = &cms.Items[i]
	}
	if _, ok := docs[legacyLevels]; ok {
		t.Error("the legacy document survived the first save")
	}
	a, b := docs[levelsName("a")], docs[levelsName("b")]
	if a == nil || b == nil || len(docs) != 2 {
		t.Fatalf("documents %v, want a's and b's", keys(docs))
	}
	if !strings.Contains(a.Data[levelsKey], `"Value":5`) || strings.Contains(a.Data[levelsKey], `"b"`) {
		t.Errorf("a's document %s", a.Data[levelsKey])
	}
	if b.Labels[levelsLabel] != "b" || !strings.Contains(b.Data[levelsKey], `"y"`) {
		t.Errorf("b's document %v %s", b.Labels, b.Data[levelsKey])
	}
	if got := testutil.ToFloat64(l.saves.WithLabelValues("ok")); got != 2 {
		t.Errorf("saves ok %g, want 2", got)
	}

	// Nothing changed: nothing written.
	kube.ClearActions()
	if err := l.save(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(kube.Actions()); n != 0 {
		t.Errorf("%d API calls for an unchanged save", n)
	}

	// b's streams go to 0: b's document goes.
	hook.Restore(nil)
	hook2 := webhook.New(sourcetest.NewSink(), webhook.Options{})
	hook2.Restore([]webhook.Level{{Namespace: "a", Stream: "s", Value: 5}})
	l.source = hook2
	if err := l.save(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().ConfigMaps(levelsNS).Get(ctx, levelsName("b"), metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("b's document after b lost its levels: %v", err)
	}
}

// TestSaveFailureIsCounted: a refused write is counted and returned (the
// saver retries it after the interval), and other namespaces still save.
func TestSaveFailureIsCounted(t *testing.T) {
	l, kube := newTestSaver(t)
	kube.PrependReactor("create", "configmaps", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if a.(k8stesting.CreateAction).GetObject().(*corev1.ConfigMap).Name == levelsName("bad") {
			return true, nil, apierrors.NewForbidden(corev1.Resource("configmaps"), levelsName("bad"), nil)
		}
		return false, nil, nil
	})
	hook := webhook.New(sourcetest.NewSink(), webhook.Options{})
	hook.Restore([]webhook.Level{{Namespace: "bad", Stream: "s", Value: 1}, {Namespace: "good", Stream: "s", Value: 1}})
	l.source = hook
	err := l.save(context.Background())
	if err == nil || !strings.Contains(err.Error(), "namespace bad") {
		t.Fatalf("save: %v, want bad's failure", err)
	}
	if got := testutil.ToFloat64(l.saves.WithLabelValues("error")); got != 1 {
		t.Errorf("saves error %g, want 1", got)
	}
	if _, err := kube.CoreV1().ConfigMaps(levelsNS).Get(context.Background(), levelsName("good"), metav1.GetOptions{}); err != nil {
		t.Errorf("good's document: %v", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestStandbyFollowsSavedLevels: a standby's levels follow the documents
// the leader saves (a new level, a changed one, one gone back to 0), it
// records no Event on an unreadable document (the leader does), and once
// elected it reads them once more and returns.
func TestStandbyFollowsSavedLevels(t *testing.T) {
	corrupt := levelsDoc(levelsName("c"), "c", `[{`)
	l, kube := newTestSaver(t, levelsDoc(levelsName("a"), "a", `[{"Namespace":"a","Stream":"s","Value":3}]`), corrupt)
	l.leading = func() bool { return false }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	levels, err := l.load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hook := webhook.New(sourcetest.NewSink(), webhook.Options{})
	hook.Restore(levels)
	l.remember(levels)

	elected := make(chan struct{})
	done := make(chan bool, 1)
	go func() { done <- l.standby(ctx, hook, elected) }()
	current := func() map[string]float64 {
		got := map[string]float64{}
		for _, lv := range hook.Levels() {
			got[lv.Namespace+"/"+lv.Stream] = lv.Value
		}
		return got
	}
	waitLevels := func(what string, want map[string]float64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			got := current()
			if len(got) == len(want) {
				same := true
				for k, v := range want {
					same = same && got[k] == v
				}
				if same {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: levels %v, want %v", what, got, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	cms := kube.CoreV1().ConfigMaps(levelsNS)
	if _, err := cms.Update(ctx, levelsDoc(levelsName("a"), "a", `[{"Namespace":"a","Stream":"s","Value":7}]`), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cms.Create(ctx, levelsDoc(levelsName("b"), "b", `[{"Namespace":"b","Stream":"x","Value":2}]`), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLevels("a changed and b saved", map[string]float64{"a/s": 7, "b/x": 2})
	if err := cms.Delete(ctx, levelsName("b"), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitLevels("b's document gone", map[string]float64{"a/s": 7})

	evs, _ := kube.CoreV1().Events(levelsNS).List(ctx, metav1.ListOptions{})
	if len(evs.Items) != 0 {
		t.Errorf("a standby recorded %d Events about the unreadable document", len(evs.Items))
	}

	if _, err := cms.Update(ctx, levelsDoc(levelsName("a"), "a", `[{"Namespace":"a","Stream":"s","Value":9}]`), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	close(elected)
	select {
	case ok := <-done:
		if !ok {
			t.Fatal("standby returned false after the election")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("standby did not return after the election")
	}
	if got := current(); got["a/s"] != 9 {
		t.Fatalf("levels at takeover %v, want the last saved a/s=9", got)
	}
}
