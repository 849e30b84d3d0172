package natsjetstream

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: Type, Metadata: map[string]string{
		"natsServerMonitoringEndpoint": "nats.nats:8222", "account": "$G", "stream": "jobs", "consumer": "workers",
		"lagThreshold": "5", "activationLagThreshold": "1", "useHttps": "false", "natsClientURL": "nats://nats:4222",
	}, AuthParams: map[string]string{"clientToken": "tok-s3cret-value"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"accountID", "clientUser", "clientPassword", "clientNkeySeed", "clientCreds")
}
