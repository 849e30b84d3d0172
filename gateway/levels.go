package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pushscale/pushscale/sources/webhook"
)

// Webhook levels are saved in the cluster object namespace, one ConfigMap
// per tenant namespace (levelsPrefix + namespace, labelled levelsLabel =
// namespace), so that they survive a restart of the gateway, one
// namespace's streams never make another's document too large, and an
// unreadable document loses only its own namespace's levels.
const (
	levelsPrefix = "pushscale-webhook-levels-"
	levelsLabel  = "pushscale.io/webhook-levels"
	levelsKey    = "levels.json"
	// legacyLevels is the single document of earlier versions: read once
	// at start, deleted after the first save.
	legacyLevels = "pushscale-webhook-levels"

	// maxStreamsPerNamespace is the most --webhook-max-streams-per-namespace
	// allows: a saved level is at most about 400 bytes (a 63-character
	// namespace, a 253-character stream, the value and the time), so 2,000
	// of them stay below the 1 MiB an object may have.
	maxStreamsPerNamespace = 2000
	// maxLevelsDocument refuses to write a document the apiserver would
	// refuse anyway.
	maxLevelsDocument = 1000 * 1024
	// levelsLoadPatience is how long the start waits for the saved levels
	// to be listed (the apiserver down, the list forbidden) before going on
	// without them, with an error logged and counted.
	levelsLoadPatience = time.Minute
)

// levelSaver saves webhook levels, at most once per interval, and once more
// when stopped.
type levelSaver struct {
	kube      kubernetes.Interface
	namespace string
	interval  time.Duration
	source    *webhook.Source // set by Start
	log       *slog.Logger
	kick      chan struct{} // capacity 1: a save is wanted

	loadErrors prometheus.Counter
	saves      *prometheus.CounterVec

	// leading reports whether this replica may write: a standby records
	// no Event about an unreadable document (nil: always).
	leading func() bool

	// Only Start's goroutine (and load and standby, before it) use these.
	saved  map[string]string // namespace → the document the cluster holds
	legacy bool              // the legacy document exists
	// restored are the streams (namespace/stream) whose levels a standby
	// last took from the documents.
	restored map[string]bool
}

func newLevelSaver(kube kubernetes.Interface, ns string, interval time.Duration, log *slog.Logger, reg prometheus.Registerer) *levelSaver {
	l := &levelSaver{
		kube: kube, namespace: ns, interval: interval, log: log, kick: make(chan struct{}, 1),
		saved: make(map[string]string),
		loadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pushscale_webhook_levels_load_errors_total",
			Help: "Saved webhook level documents that could not be read at start (their namespace starts without saved levels), and failed lists of them.",
		}),
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pushscale_webhook_levels_saves_total",
			Help: "Writes of a namespace's saved webhook levels, by result (ok, error).",
		}, []string{"result"}),
	}
	reg.MustRegister(l.loadErrors, l.saves)
	for _, r := range []string{"ok", "error"} { // every series from the start
		l.saves.WithLabelValues(r)
	}
	return l
}

// changed asks for a save; it never blocks.
func (l *levelSaver) changed() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// load reads the saved levels. A document that cannot be read is skipped
// with a Warning Event on it and counted: its namespace starts without
// saved levels, and no other namespace is affected. Only a failure to list
// the documents is returned.
func (l *levelSaver) load(ctx context.Context) ([]webhook.Level, error) {
	cms := l.kube.CoreV1().ConfigMaps(l.namespace)
	list, err := cms.List(ctx, metav1.ListOptions{LabelSelector: levelsLabel})
	if err != nil {
		return nil, fmt.Errorf("gateway: list the saved webhook levels in %s (label %s): %w", l.namespace, levelsLabel, err)
	}
	var levels []webhook.Level
	seen := map[string]bool{}
	for i := range list.Items {
		cm := &list.Items[i]
		ns := cm.Labels[levelsLabel]
		got, err := parseLevels(cm, ns)
		if err != nil {
			l.unreadable(ctx, cm, err)
			continue
		}
		seen[ns] = true
		l.saved[ns] = cm.Data[levelsKey]
		levels = append(levels, got...)
	}
	legacy, err := cms.Get(ctx, legacyLevels, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("gateway: read the saved webhook levels %s/%s: %w", l.namespace, legacyLevels, err)
	default:
		l.legacy = true
		got, err := parseLevels(legacy, "")
		if err != nil {
			l.unreadable(ctx, legacy, err)
			break
		}
		for _, lv := range got {
			if !seen[lv.Namespace] {
				levels = append(levels, lv)
			}
		}
	}
	return levels, nil
}

// parseLevels reads one saved document; ns, when set, is the only
// namespace it may hold levels of.
func parseLevels(cm *corev1.ConfigMap, ns string) ([]webhook.Level, error) {
	data := cm.Data[levelsKey]
	if data == "" {
		return nil, nil
	}
	var levels []webhook.Level
	if err := json.Unmarshal([]byte(data), &levels); err != nil {
		return nil, fmt.Errorf("key %s is not a JSON list of levels: %w", levelsKey, err)
	}
	if ns == "" {
		return levels, nil
	}
	for _, lv := range levels {
		if lv.Namespace != ns {
			return nil, fmt.Errorf("key %s holds a level of namespace %q, but the document is namespace %q's", levelsKey, lv.Namespace, ns)
		}
	}
	return levels, nil
}

// unreadable reports a saved document that cannot be used.
func (l *levelSaver) unreadable(ctx context.Context, cm *corev1.ConfigMap, err error) {
	l.loadErrors.Inc()
	msg := fmt.Sprintf("Saved webhook levels ignored: %v. The streams of this document start without their saved levels; the next save replaces it.", err)
	l.log.Error("saved webhook levels unreadable; starting without them", "configMap", l.namespace+"/"+cm.Name, "err", err)
	if l.leading != nil && !l.leading() {
		return // the leader records the Event
	}
	now := metav1.Now()
	_, eerr := l.kube.CoreV1().Events(l.namespace).Create(ctx, &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", cm.Name, now.UnixNano()), Namespace: l.namespace},
		InvolvedObject: corev1.ObjectReference{
			Kind: "ConfigMap", APIVersion: "v1", Namespace: l.namespace, Name: cm.Name, UID: cm.UID, ResourceVersion: cm.ResourceVersion,
		},
		Reason: "WebhookLevelsUnreadable", Message: msg, Type: corev1.EventTypeWarning,
		Source:         corev1.EventSource{Component: "pushscale"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{})
	if eerr != nil {
		l.log.Warn("recording an Event", "configMap", l.namespace+"/"+cm.Name, "err", eerr)
	}
}

// loadLevels lists the saved levels, retrying for levelsLoadPatience: the
// gateway serves /healthz meanwhile. Starting without them could scale
// targets to zero, so it waits that long; after it, it starts without
// them rather than never.
func loadLevels(ctx context.Context, saver *levelSaver, log *slog.Logger) []webhook.Level {
	deadline := time.Now().Add(levelsLoadPatience)
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 5*time.Second) {
		levels, err := saver.load(ctx)
		if err == nil {
			return levels
		}
		if ctx.Err() != nil {
			return nil
		}
		saver.loadErrors.Inc()
		if time.Now().After(deadline) {
			log.Error("starting without the saved webhook levels", "err", err, "waited", levelsLoadPatience)
			return nil
		}
		log.Warn("loading saved webhook levels; retrying", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// standby keeps source's levels equal to the saved documents while this
// replica does not lead: it reads them every interval (so they are at most
// one save interval and one read old), a stream whose level left the
// documents going back to 0. Once elected is closed it reads them once
// more, so the new leader starts from the last levels the old one saved
// (a graceful stop saves before it releases the Lease), and returns true;
// false when ctx ends first. A source that receives no event on a standby
// (its webhook requests are forwarded) takes every level it is given (see
// webhook.Source.Restore).
func (l *levelSaver) standby(ctx context.Context, source *webhook.Source, elected <-chan struct{}) bool {
	select {
	case <-elected:
		return true // leading from the start: the levels were just loaded
	default:
	}
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-elected:
			for try := 1; ; try++ {
				err := l.refresh(ctx, source)
				if err == nil || ctx.Err() != nil {
					break
				}
				if try == 3 {
					l.log.Error("leading with the levels read last as a standby", "err", err)
					break
				}
				l.log.Warn("reading the saved webhook levels at takeover; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(200 * time.Millisecond):
				}
			}
			return ctx.Err() == nil
		case <-tick.C:
			if err := l.refresh(ctx, source); err != nil && ctx.Err() == nil {
				l.log.Warn("reading the saved webhook levels on a standby", "err", err)
			}
		}
	}
}

// refresh reads the saved documents and gives source their levels, and
// level 0 to the streams it gave a level last time that have none now.
func (l *levelSaver) refresh(ctx context.Context, source *webhook.Source) error {
	l.saved, l.legacy = map[string]string{}, false
	levels, err := l.load(ctx)
	if err != nil {
		return err
	}
	before := l.restored
	l.remember(levels)
	for k := range before {
		if !l.restored[k] {
			ns, stream, _ := strings.Cut(k, "/")
			levels = append(levels, webhook.Level{Namespace: ns, Stream: stream, Value: 0, At: time.Now()})
		}
	}
	source.Restore(levels)
	return nil
}

// remember records levels as the ones given to the source last.
func (l *levelSaver) remember(levels []webhook.Level) {
	l.restored = make(map[string]bool, len(levels))
	for _, lv := range levels {
		l.restored[lv.Namespace+"/"+lv.Stream] = true
	}
}

// Start saves source's levels on request until ctx is done, then saves a
// last time.
func (l *levelSaver) Start(ctx context.Context, source *webhook.Source) error {
	l.source = source
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := l.save(sctx); err != nil {
				l.log.Warn("saving webhook levels on shutdown", "err", err)
			}
			return nil
		case <-l.kick:
		}
		if wait := l.interval - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				continue // the loop saves on shutdown
			case <-time.After(wait):
			}
		}
		last = time.Now()
		if err := l.save(ctx); err != nil && ctx.Err() == nil {
			l.log.Warn("saving webhook levels", "err", err)
			l.changed() // retry after the interval
		}
	}
}

// save writes the document of every namespace whose levels changed and
// deletes the documents of namespaces that have none left.
func (l *levelSaver) save(ctx context.Context) error {
	byNS := map[string][]webhook.Level{}
	for _, lv := range l.source.Levels() {
		byNS[lv.Namespace] = append(byNS[lv.Namespace], lv)
	}
	var errs []error
	for ns, levels := range byNS {
		data, err := json.Marshal(levels)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if l.saved[ns] == string(data) {
			continue
		}
		if err := l.write(ctx, ns, string(data)); err != nil {
			l.saves.WithLabelValues("error").Inc()
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns, err))
			continue
		}
		l.saves.WithLabelValues("ok").Inc()
		l.saved[ns] = string(data)
	}
	for ns := range l.saved {
		if _, ok := byNS[ns]; ok {
			continue
		}
		err := l.kube.CoreV1().ConfigMaps(l.namespace).Delete(ctx, levelsName(ns), metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			l.saves.WithLabelValues("error").Inc()
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns, err))
			continue
		}
		delete(l.saved, ns)
	}
	if l.legacy && len(errs) == 0 {
		err := l.kube.CoreV1().ConfigMaps(l.namespace).Delete(ctx, legacyLevels, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("gateway: delete the legacy webhook levels %s/%s: %w", l.namespace, legacyLevels, err)
		}
		l.legacy = false
	}
	return errors.Join(errs...)
}

// write creates or updates one namespace's document. An update carries the
// resourceVersion it read, so a concurrent writer's document is never
// overwritten unseen: the conflict is retried after the interval.
func (l *levelSaver) write(ctx context.Context, ns, data string) error {
	if len(data) > maxLevelsDocument {
		return fmt.Errorf("%d bytes of saved levels, more than a ConfigMap holds (lower --webhook-max-streams-per-namespace)", len(data))
	}
	cms := l.kube.CoreV1().ConfigMaps(l.namespace)
	name := levelsName(ns)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: l.namespace, Labels: map[string]string{
				"app.kubernetes.io/managed-by": "pushscale", levelsLabel: ns,
			}},
			Data: map[string]string{levelsKey: data},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if cm.Labels[levelsLabel] != ns {
		return fmt.Errorf("configmap %s/%s exists without label %s=%s: not overwriting it", l.namespace, name, levelsLabel, ns)
	}
	if cm.Data[levelsKey] == data {
		return nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[levelsKey] = data
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

// levelsName is the ConfigMap of namespace ns's levels. Namespace names
// are DNS labels (at most 63 characters), so the name is a valid one.
func levelsName(ns string) string {
	return levelsPrefix + strings.ToLower(ns)
}
