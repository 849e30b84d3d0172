package metricsapi

import (
	"context"
	"errors"
)

// ErrNotFound is wrapped by the errors of Values.ExternalMetric when the
// ScaledObject or its metric does not exist. The API answers 404 NotFound.
var ErrNotFound = errors.New("metric not found")

// Values answers metric lookups from memory. Implemented by the scaler.
//
// Implementations must be safe for concurrent use: the API server calls
// ExternalMetric from one goroutine per request. ExternalMetric should not
// block on I/O: the HPA waits on it.
type Values interface {
	// ExternalMetric returns the value of the metric named metric (matched
	// case-insensitively) of ScaledObject scaledObject in namespace, and the
	// metric's canonical (original-case) name. It returns an error wrapping
	// ErrNotFound when the object or metric does not exist, and another error
	// when the value is not available (unknown yet, or failing below the
	// fallback threshold) – the HPA then keeps its size.
	ExternalMetric(ctx context.Context, namespace, scaledObject, metric string) (name string, value float64, err error)
}
