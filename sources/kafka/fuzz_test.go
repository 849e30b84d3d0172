package kafka

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: Type, Metadata: map[string]string{
		"bootstrapServers": "a:9092,b:9092", "consumerGroup": "g", "topic": "orders", "lagThreshold": "5",
		"activationLagThreshold": "1", "offsetResetPolicy": "latest", "partitionLimitation": "1,2,4-6",
		"allowIdleConsumers": "false", "excludePersistentLag": "false", "limitToPartitionsWithLag": "false",
		"ensureEvenDistributionOfPartitions": "false", "scaleToZeroOnInvalidOffset": "false", "version": "2.8.0", "sasl": "plaintext",
	}, AuthParams: map[string]string{"username": "u", "password": "pa55-s3cret"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"tls", "ca", "cert", "key", "keyPassword", "unsafeSsl")
}
