package webhook

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// reason is why a request was accepted or refused: the reason label of
// pushscale_events_total, a small fixed set (no stream label: unbounded).
type reason uint8

const (
	reasonOK reason = iota
	reasonBadRequest
	reasonNotFound
	reasonTooLarge
	reasonUnsupportedMedia
	reasonUnauthorized
	reasonRateLimited
	reasonOverloaded
	reasonThrottled
	numReasons
	reasonNone = numReasons // not counted (GET, shutting down)
)

var reasonNames = [numReasons]string{
	reasonOK:               "ok",
	reasonBadRequest:       "bad_request",
	reasonNotFound:         "not_found",
	reasonTooLarge:         "too_large",
	reasonUnsupportedMedia: "unsupported_media_type",
	reasonUnauthorized:     "unauthorized",
	reasonRateLimited:      "rate_limited",
	reasonOverloaded:       "overloaded",
	reasonThrottled:        "throttled",
}

// NewEventsCounter returns pushscale_events_total, unregistered: events
// received, by source, result (accepted, rejected) and reason.
func NewEventsCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pushscale_events_total",
		Help: "Events received by push sources, by source, result (accepted, rejected) and reason.",
	}, []string{"source", "result", "reason"})
}

// eventsVec returns vec, or a new counter registered with reg (nil: not
// registered). A counter registered already is reused.
func eventsVec(vec *prometheus.CounterVec, reg prometheus.Registerer) *prometheus.CounterVec {
	if vec != nil {
		return vec
	}
	vec = NewEventsCounter()
	if reg == nil {
		return vec
	}
	if err := reg.Register(vec); err != nil {
		if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
		panic("webhook: register pushscale_events_total: " + err.Error())
	}
	return vec
}

// eventCounters holds the counter of each reason, resolved once so that a
// request only increments.
type eventCounters [numReasons]prometheus.Counter

func newEventCounters(vec *prometheus.CounterVec) eventCounters {
	var c eventCounters
	for r := range numReasons {
		result := "rejected"
		if r == reasonOK {
			result = "accepted"
		}
		c[r] = vec.With(prometheus.Labels{"source": Type, "result": result, "reason": reasonNames[r]})
	}
	return c
}

// add counts n events with reason r.
func (c *eventCounters) add(r reason, n int) {
	if r < numReasons && n > 0 {
		c[r].Add(float64(n))
	}
}
