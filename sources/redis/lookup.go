package redis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pushscale/pushscale/sources"
)

// from is a place a field's value may come from.
type from int

const (
	fromMetadata from = iota // the trigger's metadata
	fromAuth                 // the TriggerAuthentication's parameters
	fromEnv                  // the scale target's environment, named by <field>FromEnv
)

// The lookup orders of KEDA's redis scalers (keda.md §3): the first
// non-empty value, trimmed, wins.
var (
	metaOnly    = []from{fromMetadata}
	authOnly    = []from{fromAuth}
	metaEnvAuth = []from{fromMetadata, fromEnv, fromAuth} // username, password, host, port
	metaAuthEnv = []from{fromMetadata, fromAuth, fromEnv} // address, sentinel*
)

// lookup reads the fields of one trigger.
type lookup struct {
	t sources.Trigger
	// where remembers where each field read so far came from, so that
	// errors show only values the user wrote in the trigger's metadata.
	where map[string]from
}

// get returns the first non-empty value of any of names, trying each place
// of order in turn (for each place, every name), as KEDA's typed config
// does. For fromEnv the variable named by metadata <name>FromEnv is read.
func (l *lookup) get(order []from, names ...string) (string, bool) {
	for _, f := range order {
		for _, name := range names {
			var v string
			switch f {
			case fromMetadata:
				v = l.t.Metadata[name]
			case fromAuth:
				v = l.t.AuthParams[name]
			case fromEnv:
				if ref := strings.TrimSpace(l.t.Metadata[name+"FromEnv"]); ref != "" {
					v = l.t.ResolvedEnv[ref]
				}
			}
			if v = strings.TrimSpace(v); v != "" {
				if l.where == nil {
					l.where = make(map[string]from)
				}
				l.where[names[0]] = f
				return v, true
			}
		}
	}
	return "", false
}

// int reads a whole number from the metadata, def when absent.
func (l *lookup) int(name string, def int64) (int64, error) {
	raw, ok := l.get(metaOnly, name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		return 0, l.invalid(name, "must be a whole number")
	}
	return n, nil
}

// positive reads a whole number > 0 from the metadata, def when absent.
func (l *lookup) positive(name string, def int64) (int64, error) {
	raw, ok := l.get(metaOnly, name)
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n <= 0 {
		return 0, l.invalid(name, "must be a positive whole number")
	}
	return n, nil
}

// bool reads true or false from the metadata, false when absent.
func (l *lookup) bool(name string) (bool, error) {
	raw, ok := l.get(metaOnly, name)
	if !ok {
		return false, nil
	}
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, l.invalid(name, "must be true or false")
	}
	return v, nil
}

// invalid is the error for the value last read for name.
func (l *lookup) invalid(name, why string) error {
	v, _ := l.get([]from{l.where[name]}, name)
	return l.invalidValue(name, v, why)
}

// invalidValue names field and shows value only when it came from the
// trigger's metadata: values from a TriggerAuthentication or the
// environment may be secrets.
func (l *lookup) invalidValue(field, value, why string) error {
	switch l.where[strings.Fields(field)[0]] {
	case fromAuth:
		return fmt.Errorf("redis: %s (from TriggerAuthentication): %s", field, why)
	case fromEnv:
		return fmt.Errorf("redis: %s (from the environment): %s", field, why)
	}
	if len(value) > 80 {
		value = value[:80] + "…"
	}
	return fmt.Errorf("redis: %s %q: %s", field, value, why)
}
