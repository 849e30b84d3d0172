package cron

import (
	"strings"
	"testing"
	"time"

	"github.com/pushscale/pushscale/sources"
	"github.com/pushscale/pushscale/sources/sourcetest"
)

func cronTrigger(md map[string]string) sources.Trigger {
	return sources.Trigger{Key: sourcetest.Key("so"), Type: Type, Metadata: md}
}

func valid() map[string]string {
	return map[string]string{"timezone": "Etc/UTC", "start": "0 10 * * *", "end": "0 11 * * *", "desiredReplicas": "3"}
}

func with(kv ...string) map[string]string { return sourcetest.Edit(valid(), kv...) }

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		md      map[string]string
		wantErr string // empty: valid
	}{
		{"valid", valid(), ""},
		{"zone with a city", with("timezone", "America/New_York"), ""},
		{"steps lists and ranges", with("start", "*/15 9-17 * * 1-5", "end", "5,35 18 * 1,6 *"), ""},
		{"question mark as KEDA's parser allows", with("start", "0 10 ? * *"), ""},
		{"no timezone", with("timezone", "<absent>"), "cron: timezone: required"},
		{"unknown timezone", with("timezone", "Mars/Olympus"), `cron: timezone "Mars/Olympus": not an IANA time zone`},
		{"no start", with("start", "<absent>"), "cron: start: required"},
		{"start with six fields", with("start", "0 0 10 * * *"), `cron: start "0 0 10 * * *": not a cron expression`},
		{"start as a descriptor", with("start", "@hourly"), `cron: start "@hourly": not a cron expression`},
		{"end out of range", with("end", "61 11 * * *"), `cron: end "61 11 * * *": not a cron expression`},
		{"no end", with("end", "<absent>"), "cron: end: required"},
		{"end that never fires", with("end", "0 0 31 2 *"), `cron: end "0 0 31 2 *": never fires`},
		{"start equal to end", with("end", "0 10 * * *"), `cron: start and end "0 10 * * *": must differ`},
		{"no desiredReplicas", with("desiredReplicas", "<absent>"), "cron: desiredReplicas: required"},
		{"desiredReplicas 0, refused as KEDA does", with("desiredReplicas", "0"), `cron: desiredReplicas "0": must be a positive whole number`},
		{"negative desiredReplicas", with("desiredReplicas", "-2"), `cron: desiredReplicas "-2": must be a positive whole number`},
		{"desiredReplicas not a number", with("desiredReplicas", "three"), `cron: desiredReplicas "three": must be a positive whole number`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(cronTrigger(tc.md))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("ParseConfig = %v, want no error", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Fatalf("ParseConfig = %v, want an error starting %q", err, tc.wantErr)
			}
		})
	}
}

// TestMetricName: KEDA's unit test's name, and its spelling of every
// special character.
func TestMetricName(t *testing.T) {
	tests := []struct {
		name       string
		md         map[string]string
		index      int
		wantMetric string
	}{
		{"KEDA's example", with("start", "0 * * * Thu", "end", "59 23 * * Thu"), 0, "s0-cron-Etc-UTC-0xxxThu-5923xxThu"},
		{"steps, lists, question marks", with("start", "*/5 9 ? * 1,2", "end", "0 18 * * *"), 2, "s2-cron-Etc-UTC-xSl59Qmx1Cm2-018xxx"},
		{"zone with a slash and case kept", with("timezone", "America/New_York"), 1, "s1-cron-America-New_York-010xxx-011xxx"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(cronTrigger(tc.md))
			if err != nil {
				t.Fatal(err)
			}
			spec := c.Spec(tc.index)
			if spec.MetricName != tc.wantMetric || spec.Target != 1 || spec.Activation != 0 {
				t.Fatalf("Spec = %+v, want %s, target 1, activation 0", spec, tc.wantMetric)
			}
		})
	}
}

// TestAt: KEDA's window rule at times around the edges, in the trigger's
// zone.
func TestAt(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	day := func(h, m, s int) time.Time { return time.Date(2026, 12, 7, h, m, s, 0, time.UTC) }
	tests := []struct {
		name       string
		md         map[string]string
		now        time.Time
		wantValue  float64
		wantInside bool
		wantNext   time.Time
	}{
		{"before the window", valid(), day(9, 59, 59), 0, false, day(10, 0, 0)},
		{"at the start", valid(), day(10, 0, 0), 3, true, day(11, 0, 0)},
		{"inside", valid(), day(10, 30, 0), 3, true, day(11, 0, 0)},
		{"at the end", valid(), day(11, 0, 0), 0, false, day(10, 0, 0).AddDate(0, 0, 1)},
		{"window across midnight, before midnight", with("start", "0 22 * * *", "end", "0 6 * * *"), day(23, 0, 0), 3, true, day(6, 0, 0).AddDate(0, 0, 1)},
		{"window across midnight, after midnight", with("start", "0 22 * * *", "end", "0 6 * * *"), day(5, 0, 0), 3, true, day(6, 0, 0)},
		{"window across midnight, daytime", with("start", "0 22 * * *", "end", "0 6 * * *"), day(12, 0, 0), 0, false, day(22, 0, 0)},
		{"a start firing again inside keeps it open", with("start", "0 * * * *", "end", "30 18 * * *"), day(18, 10, 0), 3, true, day(18, 30, 0)},
		{"edges in the same minute: inside, as KEDA (the end comes no later than the start)", with("start", "0 * * * *", "end", "0 18 * * *"), day(17, 59, 0), 3, true, day(18, 0, 0)},
		{"and at that minute the end wins", with("start", "0 * * * *", "end", "0 18 * * *"), day(18, 0, 0), 0, false, day(19, 0, 0)},
		{"zone: 10:00 in Berlin is 09:00 UTC", with("timezone", "Europe/Berlin"), time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC), 3, true, time.Date(2026, 12, 7, 11, 0, 0, 0, berlin)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig(cronTrigger(tc.md))
			if err != nil {
				t.Fatal(err)
			}
			v, inside, next := c.At(tc.now)
			if v != tc.wantValue || inside != tc.wantInside || !next.Equal(tc.wantNext) {
				t.Fatalf("At(%s) = %g, %t, %s; want %g, %t, %s", tc.now, v, inside, next, tc.wantValue, tc.wantInside, tc.wantNext)
			}
		})
	}
}
