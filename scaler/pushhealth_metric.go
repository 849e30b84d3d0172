package scaler

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/types"
)

// pushHealthCount is pushscale_push_health{kind,status,reason}: how many
// ScaledObjects and ScaledJobs have each PushHealthy status and reason. A
// count, not a series per object, so 10,000 objects cost a handful of
// series; which objects are unhealthy is on their condition. Safe for
// concurrent use.
type pushHealthCount struct {
	gauge *prometheus.GaugeVec

	mu  sync.Mutex
	now map[healthKey]healthState // the last state set for each object
	n   map[healthState]int
}

type healthKey struct {
	kind string
	key  types.NamespacedName
}

type healthState struct{ kind, status, reason string }

func newPushHealthCount() *pushHealthCount {
	return &pushHealthCount{
		gauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pushscale_push_health",
			Help: "ScaledObjects and ScaledJobs by kind and by their PushHealthy condition's status (True, False, Unknown) and reason.",
		}, []string{"kind", "status", "reason"}),
		now: map[healthKey]healthState{},
		n:   map[healthState]int{},
	}
}

// set records the PushHealthy status and reason of object key of kind.
func (p *pushHealthCount) set(kind string, key types.NamespacedName, status, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k, s := healthKey{kind, key}, healthState{kind, status, reason}
	if old, ok := p.now[k]; ok {
		if old == s {
			return
		}
		p.move(old, -1)
	}
	p.now[k] = s
	p.move(s, 1)
}

// forget uncounts object key of kind (deleted, or without triggers).
func (p *pushHealthCount) forget(kind string, key types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := healthKey{kind, key}
	if old, ok := p.now[k]; ok {
		delete(p.now, k)
		p.move(old, -1)
	}
}

// move changes the count of s by d, deleting its series at 0. p.mu is held.
func (p *pushHealthCount) move(s healthState, d int) {
	n := p.n[s] + d
	if n <= 0 {
		delete(p.n, s)
		p.gauge.DeleteLabelValues(s.kind, s.status, s.reason)
		return
	}
	p.n[s] = n
	p.gauge.WithLabelValues(s.kind, s.status, s.reason).Set(float64(n))
}
