package sources

import (
	"context"
	"fmt"
	"sort"

	"golang.org/x/sync/errgroup"

	"github.com/pushscale/pushscale/store"
)

// Registry maps a trigger type to the source that serves it. Several types
// may share one source (redis, redis-cluster, ...).
type Registry map[string]Source

// Types returns the registered trigger types in order.
func (r Registry) Types() []string {
	out := make([]string, 0, len(r))
	for t := range r {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Manager dispatches triggers to the sources of a Registry. It is safe for
// concurrent use.
type Manager struct {
	reg Registry
}

// NewManager returns a manager over reg.
func NewManager(reg Registry) *Manager { return &Manager{reg: reg} }

func (m *Manager) source(typ string) (Source, error) {
	s, ok := m.reg[typ]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnsupported, typ)
	}
	return s, nil
}

// Parse validates t with its source; ErrUnsupported for an unknown type.
func (m *Manager) Parse(t Trigger) (Spec, error) {
	s, err := m.source(t.Type)
	if err != nil {
		return Spec{}, err
	}
	return s.Parse(t)
}

// Watch hands t to its source.
func (m *Manager) Watch(t Trigger) error {
	s, err := m.source(t.Type)
	if err != nil {
		return err
	}
	return s.Watch(t)
}

// Unwatch takes trigger k of type typ back from its source.
func (m *Manager) Unwatch(typ string, k store.Key) {
	if s, err := m.source(typ); err == nil {
		s.Unwatch(k)
	}
}

// Start runs every distinct source until ctx is done and returns the first
// error any of them returns.
func (m *Manager) Start(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	seen := make(map[Source]bool)
	for _, typ := range m.reg.Types() {
		s := m.reg[typ]
		if seen[s] {
			continue
		}
		seen[s] = true
		g.Go(func() error { return s.Start(ctx) })
	}
	return g.Wait()
}
