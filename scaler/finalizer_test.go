package scaler

import (
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestRetryable(t *testing.T) {
	gr := schema.GroupResource{Group: "apps", Resource: "deployments"}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{name: "network", err: fmt.Errorf("restore x: %w", errors.New("connection refused")), want: true},
		{name: "conflict", err: fmt.Errorf("restore x: %w", apierrors.NewConflict(gr, "x", errors.New("stale"))), want: true},
		{name: "too many requests", err: apierrors.NewTooManyRequests("slow down", 1), want: true},
		{name: "forbidden", err: fmt.Errorf("restore x: %w", apierrors.NewForbidden(gr, "x", errors.New("no"))), want: false},
		{name: "invalid", err: apierrors.NewBadRequest("no"), want: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := retryable(tc.err); got != tc.want {
				t.Fatalf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
