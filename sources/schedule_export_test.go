package sources

// Quiet reports whether Start's loop waits for a timer that is not yet due
// and no read is queued or running: whatever the clock's time asks for has
// happened. For tests, which poll it after stepping a fake clock.
func (s *Scheduler) Quiet() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != running || !s.waiting || s.workers > 0 {
		return false
	}
	return len(s.timers) == 0 || s.timers[0].wake.After(s.opts.Clock.Now())
}

// Timers returns the number of resources with a timer set.
func (s *Scheduler) Timers() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.timers)
}

// ReadsPerEndpoint is readsPerEndpoint, for tests.
const ReadsPerEndpoint = readsPerEndpoint
