package etcd

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: Type, Metadata: map[string]string{
		"endpoints": "etcd-0:2379,etcd-1:2379", "watchKey": "/jobs", "value": "5", "activationValue": "1", "watchProgressNotifyInterval": "60",
	}, AuthParams: map[string]string{"username": "user-s3cret", "password": "pass-s3cret-value"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"tls", "ca", "cert", "key", "keyPassword", "passwordFromEnv")
}
