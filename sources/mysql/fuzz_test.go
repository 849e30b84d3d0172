package mysql

import (
	"testing"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func FuzzParseConfig(f *testing.F) {
	base := sources.Trigger{Type: Type, Metadata: map[string]string{
		"host": "db", "port": "3306", "username": "scaler", "dbName": "jobs",
		"query": "SELECT count(*) FROM jobs", "queryValue": "5", "activationQueryValue": "1",
	}, AuthParams: map[string]string{"password": "pass-s3cret-value"}}
	sourcetest.FuzzConfig(f, base, ParseConfig,
		"connectionString", "passwordFromEnv", "connectionStringFromEnv")
}
