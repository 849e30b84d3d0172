// Package gatewaytest configures extra gateways for the e2e tests and the
// benchmark.
package gatewaytest

import (
	"fmt"
	"net"

	"github.com/pushscale/pushscale/companion/companiontest"
	"github.com/pushscale/pushscale/gateway"
)

// Companion returns base changed into a gateway in companion mode on
// free loopback ports: its external scaler presents a serving
// certificate of ca (files written into dir) and accepts callers with a
// certificate of ca; no registry is shared with base's gateway.
func Companion(base gateway.Options, dir string, ca *companiontest.CA) (gateway.Options, error) {
	certFile, keyFile, caFile, err := ca.ServingFiles(dir)
	if err != nil {
		return base, fmt.Errorf("gatewaytest: %w", err)
	}
	var addrs [4]string
	for i := range addrs {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return base, fmt.Errorf("gatewaytest: %w", err)
		}
		addrs[i] = ln.Addr().String()
		ln.Close()
	}
	o := base
	o.Registry = nil
	o.Mode = gateway.ModeCompanion
	o.WebhookAddr, o.MetricsAddr, o.MetricsAPIAddr, o.ExternalScalerAddr = addrs[0], addrs[1], addrs[2], addrs[3]
	o.ExternalScalerClientCAFile = caFile
	o.ManageCertificates, o.MetricsAPICertFile, o.MetricsAPIKeyFile = false, certFile, keyFile
	return o, nil
}
