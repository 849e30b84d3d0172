package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/pushscale/pushscale/sources/webhook"
)

// levelsConfigMap holds the saved webhook levels, in the cluster object
// namespace, so they survive a restart of the gateway.
const (
	levelsConfigMap = "pushscale-webhook-levels"
	levelsKey       = "levels.json"
)

// levelSaver saves webhook levels to a ConfigMap, at most once per
// interval, and once more when stopped.
type levelSaver struct {
	kube      kubernetes.Interface
	namespace string
	interval  time.Duration
	source    *webhook.Source
	log       *slog.Logger
	kick      chan struct{} // capacity 1: a save is wanted
}

func newLevelSaver(kube kubernetes.Interface, ns string, interval time.Duration, log *slog.Logger) *levelSaver {
	return &levelSaver{kube: kube, namespace: ns, interval: interval, log: log, kick: make(chan struct{}, 1)}
}

// changed asks for a save; it never blocks.
func (l *levelSaver) changed() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// load reads the saved levels; a missing ConfigMap is no levels.
func (l *levelSaver) load(ctx context.Context) ([]webhook.Level, error) {
	cm, err := l.kube.CoreV1().ConfigMaps(l.namespace).Get(ctx, levelsConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: load webhook levels from configmap %s/%s: %w", l.namespace, levelsConfigMap, err)
	}
	var levels []webhook.Level
	if data := cm.Data[levelsKey]; data != "" {
		if err := json.Unmarshal([]byte(data), &levels); err != nil {
			return nil, fmt.Errorf("gateway: configmap %s/%s key %s: %w", l.namespace, levelsConfigMap, levelsKey, err)
		}
	}
	return levels, nil
}

// Start saves on request until ctx is done, then saves a last time.
func (l *levelSaver) Start(ctx context.Context) error {
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

func (l *levelSaver) save(ctx context.Context) error {
	data, err := json.Marshal(l.source.Levels())
	if err != nil {
		return err
	}
	cms := l.kube.CoreV1().ConfigMaps(l.namespace)
	cm, err := cms.Get(ctx, levelsConfigMap, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: levelsConfigMap, Namespace: l.namespace,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "pushscale"}},
			Data: map[string]string{levelsKey: string(data)},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	if cm.Data[levelsKey] == string(data) {
		return nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[levelsKey] = string(data)
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}
