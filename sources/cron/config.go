package cron

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // the image has no zoneinfo: the zones are built in

	robfig "github.com/robfig/cron/v3"

	"github.com/pushscale/pushscale/api/v1alpha1"
	"github.com/pushscale/pushscale/sources"
)

// Type is the trigger type this package serves.
const Type = "cron"

// The fields of a cron trigger, all from the trigger's metadata and all
// required, as in KEDA.
var (
	fieldTimezone = sources.Field[string]{Name: "timezone", Required: true}
	fieldStart    = sources.Field[string]{Name: "start", Required: true}
	fieldEnd      = sources.Field[string]{Name: "end", Required: true}
	fieldDesired  = sources.Field[int64]{Name: "desiredReplicas", Required: true, Parse: sources.PositiveInt}
)

// parser reads the five-field expressions KEDA accepts: minute, hour, day
// of month, month, day of week; no seconds, no @descriptors.
var parser = robfig.NewParser(robfig.Minute | robfig.Hour | robfig.Dom | robfig.Month | robfig.Dow)

// Config is the parsed, validated metadata of one cron trigger.
type Config struct {
	// Timezone is the IANA name of the zone the expressions are read in.
	Timezone string
	// Start and End are the window's cron expressions, as written.
	Start, End string
	// DesiredReplicas is the value inside the window.
	DesiredReplicas int64

	loc        *time.Location
	start, end robfig.Schedule
}

// ParseConfig validates the metadata of t. Errors name the field and its
// value. It has no side effects.
func ParseConfig(t sources.Trigger) (Config, error) {
	l := sources.NewLookup(Type, t)
	var c Config
	var err error
	if c.Timezone, err = fieldTimezone.Read(l); err != nil {
		return Config{}, err
	}
	if c.loc, err = time.LoadLocation(c.Timezone); err != nil {
		return Config{}, l.Invalid(fieldTimezone.Name, "not an IANA time zone (e.g. Europe/Berlin, Etc/UTC)")
	}
	if c.Start, err = fieldStart.Read(l); err != nil {
		return Config{}, err
	}
	if c.start, err = schedule(l, fieldStart.Name, c.Start, c.loc); err != nil {
		return Config{}, err
	}
	if c.End, err = fieldEnd.Read(l); err != nil {
		return Config{}, err
	}
	if c.end, err = schedule(l, fieldEnd.Name, c.End, c.loc); err != nil {
		return Config{}, err
	}
	if c.Start == c.End {
		return Config{}, l.Errorf("start and end %q: must differ (KEDA refuses the same expression for both)", c.Start)
	}
	if c.DesiredReplicas, err = fieldDesired.Read(l); err != nil {
		return Config{}, err
	}
	return c, nil
}

// schedule parses expression expr of field and checks that it fires.
func schedule(l *sources.Lookup, field, expr string, loc *time.Location) (s robfig.Schedule, err error) {
	defer func() {
		if recover() != nil { // the parser is not ours: never let it take the gateway down
			s, err = nil, l.Invalid(field, "not a cron expression")
		}
	}()
	s, err = parser.Parse(expr)
	if err != nil {
		return nil, l.Invalid(field, "not a cron expression (minute hour day-of-month month day-of-week): "+err.Error())
	}
	if s.Next(time.Now().In(loc)).IsZero() {
		return nil, l.Invalid(field, "never fires")
	}
	return s, nil
}

// Spec returns KEDA's metric name s<index>-cron-<timezone>-<start>-<end>
// (expressions without spaces, * as x, / as Sl, ? as Qm, comma as Cm) and
// its fixed target 1.
func (c Config) Spec(index int) sources.Spec {
	return sources.Spec{
		MetricName: v1alpha1.MetricName(index, fmt.Sprintf("cron-%s-%s-%s", c.Timezone, nameOf(c.Start), nameOf(c.End))),
		Target:     1,
	}
}

// nameOf spells an expression as KEDA does in metric names.
var nameOf = strings.NewReplacer(" ", "", "*", "x", "/", "Sl", "?", "Qm", ",", "Cm").Replace

// At returns the trigger's value and activity at now, and the next time
// either expression fires after now (zero when neither ever does again).
func (c Config) At(now time.Time) (value float64, inside bool, next time.Time) {
	now = now.In(c.loc)
	s, e := c.start.Next(now), c.end.Next(now)
	switch {
	case e.IsZero() && s.IsZero():
		return 0, false, time.Time{}
	case e.IsZero():
		inside, next = false, s
	case s.IsZero():
		inside, next = true, e
	default:
		// KEDA's rule: inside when the end comes no later than the start.
		inside = !s.Before(e)
		next = s
		if e.Before(s) {
			next = e
		}
	}
	if inside {
		value = float64(c.DesiredReplicas)
	}
	return value, inside, next
}
