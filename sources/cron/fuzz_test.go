package cron

import (
	"testing"

	"github.com/pushscale/pushscale/sources/sourcetest"
)

// FuzzParseConfig: no metadata makes the parser (ours or robfig's) panic,
// and no error shows a TriggerAuthentication value (cron reads none).
func FuzzParseConfig(f *testing.F) {
	base := cronTrigger(valid())
	base.AuthParams = map[string]string{"unused": "s3cret-never-read"}
	f.Add("start", "*/0 * * * *")
	f.Add("end", "TZ=Mars/Olympus 0 * * * *")
	f.Add("start", "0-59/1000000000000 * * * *")
	sourcetest.FuzzConfig(f, base, ParseConfig)
}
