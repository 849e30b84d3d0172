package redis

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: TypeRedisSentinelStreams, Metadata: map[string]string{
		"addresses": "a:1,b:2", "sentinelMaster": "m", "stream": "s", "consumerGroup": "g", "lagCount": "3",
		"pendingEntriesCount": "4", "streamLength": "5", "activationLagCount": "1", "databaseIndex": "0",
		"enableTLS": "false", "unsafeSsl": "false", "listName": "q", "listLength": "2",
	}, AuthParams: map[string]string{"password": "pa55-s3cret", "sentinelPassword": "s3ntinel-pw"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"host", "port", "hosts", "ports", "tls", "ca", "cert", "key", "keyPassword")
}
