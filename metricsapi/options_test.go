package metricsapi

import (
	"strings"
	"testing"

	"github.com/pushscale/pushscale/certs"
)

func TestNewValidatesOptions(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		values Values
		want   string
	}{
		{name: "no values", opts: Options{Addr: ":6443"}, values: nil, want: "values is nil"},
		{name: "no addr", opts: Options{}, values: fakeValues{}, want: "addr is empty"},
		{name: "addr without port", opts: Options{Addr: "localhost"}, values: fakeValues{}, want: `addr "localhost"`},
		{name: "cert without key", opts: Options{Addr: ":6443", CertFile: "tls.crt"}, values: fakeValues{}, want: "set both or neither"},
		{name: "cert provider and files", opts: Options{Addr: ":6443", CertFile: "tls.crt", KeyFile: "tls.key", Cert: certs.NewHolder("x")}, values: fakeValues{}, want: "one or the other"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts, tt.values)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
