package postgresql

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: Type, Metadata: map[string]string{
		"host": "db", "port": "5432", "userName": "scaler", "dbName": "jobs", "sslmode": "disable",
		"query": "SELECT count(*) FROM jobs", "targetQueryValue": "5", "activationTargetQueryValue": "1", "notifyChannel": "jobs",
	}, AuthParams: map[string]string{"password": "pass-s3cret-value"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"connection", "passwordFromEnv", "connectionFromEnv")
}
