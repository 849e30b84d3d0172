package rabbitmq

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: Type, Metadata: map[string]string{
		"host": "amqp://rabbit:5672/", "queueName": "jobs", "mode": "QueueLength", "value": "5", "activationValue": "1",
		"vhostName": "v", "shadowBindings": "jobs:new", "managementHost": "http://rabbit:15672",
	}, AuthParams: map[string]string{"username": "user-s3cret", "password": "pass-s3cret-value"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"protocol", "queueLength", "useRegex", "pageSize", "operation", "excludeUnacknowledged", "timeout", "unsafeSsl",
		"tls", "ca", "cert", "key", "keyPassword")
}
