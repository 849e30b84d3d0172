package sources

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// This file is KEDA's per-field lookup, shared by every source's config: a
// field is read from the trigger's metadata, from the scale target's
// environment (the variable named by metadata <field>FromEnv) and from the
// TriggerAuthentication's parameters, in an order that KEDA fixes per
// field; the first non-empty value, trimmed, wins. A source declares each
// field once (Field) and reads it from a Lookup, which remembers where
// every value came from so that errors show only what the user wrote in the
// trigger's metadata: values from a TriggerAuthentication or the
// environment may be secrets.

// From is a place a field's value may come from.
type From int

// The places a value may come from.
const (
	FromMetadata From = iota // the trigger's metadata
	FromAuth                 // the TriggerAuthentication's parameters
	FromEnv                  // the scale target's environment, named by <field>FromEnv
)

// Order is the places a field is looked up in, first first.
type Order []From

// The lookup orders KEDA's scalers use (keda.md §3).
var (
	MetadataOnly = Order{FromMetadata}
	AuthOnly     = Order{FromAuth}
	// MetaEnvAuth is metadata, then *FromEnv, then the TriggerAuthentication.
	MetaEnvAuth = Order{FromMetadata, FromEnv, FromAuth}
	// MetaAuthEnv is metadata, then the TriggerAuthentication, then *FromEnv.
	MetaAuthEnv = Order{FromMetadata, FromAuth, FromEnv}
	// AuthMeta is the TriggerAuthentication, then metadata.
	AuthMeta = Order{FromAuth, FromMetadata}
)

// Lookup reads the fields of one trigger for one source. It is not safe
// for concurrent use; a config parser makes one per trigger.
type Lookup struct {
	source string
	t      Trigger
	where  map[string]From
	err    error // the first error of ReadInto
}

// NewLookup returns a lookup of t's fields; source prefixes its errors
// ("redis: listLength ...").
func NewLookup(source string, t Trigger) *Lookup {
	return &Lookup{source: source, t: t, where: make(map[string]From)}
}

// Get returns the first non-empty value of any of names, trying each place
// of order in turn (for each place, every name), as KEDA's typed config
// does. For FromEnv the variable named by metadata <name>FromEnv is read.
// The value is remembered under names[0] for errors.
func (l *Lookup) Get(order Order, names ...string) (string, bool) {
	for _, f := range order {
		for _, name := range names {
			var v string
			switch f {
			case FromMetadata:
				v = l.t.Metadata[name]
			case FromAuth:
				v = l.t.AuthParams[name]
			case FromEnv:
				if ref := strings.TrimSpace(l.t.Metadata[name+"FromEnv"]); ref != "" {
					v = l.t.ResolvedEnv[ref]
				}
			}
			if v = strings.TrimSpace(v); v != "" {
				l.where[names[0]] = f
				return v, true
			}
		}
	}
	return "", false
}

// Err returns the first error of a ReadInto of l, nil when there was none.
func (l *Lookup) Err() error { return l.err }

// Errorf is an error of the source about the trigger as a whole or about
// fields whose values it does not show: "redis: hosts and ports: ...".
func (l *Lookup) Errorf(format string, args ...any) error {
	return fmt.Errorf(l.source+": "+format, args...)
}

// Invalid is the error for the value last read for field: it names the
// field and shows the value only when it came from the trigger's metadata.
func (l *Lookup) Invalid(field, why string) error {
	v, _ := l.Get(Order{l.where[field]}, field)
	return l.InvalidValue(field, v, why)
}

// InvalidValue is Invalid for a value the caller derived itself (one entry
// of a list, say). field may carry words after the field's name ("host and
// port"); the first word says where the value came from.
func (l *Lookup) InvalidValue(field, value, why string) error {
	name, _, _ := strings.Cut(field, " ")
	switch l.where[name] {
	case FromAuth:
		return fmt.Errorf("%s: %s (from TriggerAuthentication): %s", l.source, field, why)
	case FromEnv:
		return fmt.Errorf("%s: %s (from the environment): %s", l.source, field, why)
	}
	if len(value) > 80 {
		value = value[:80] + "…"
	}
	return fmt.Errorf("%s: %s %q: %s", l.source, field, value, why)
}

// Field declares one field of a source's config: where it is looked up,
// whether it must be given, its default, and how its text is parsed.
type Field[T any] struct {
	// Name is the metadata key (and TriggerAuthentication parameter).
	Name string
	// Aliases are other keys accepted for the field, tried after Name in
	// each place (KEDA's "address" and "addresses").
	Aliases []string
	// From is the lookup order; nil is MetadataOnly.
	From Order
	// Required makes an absent field an error.
	Required bool
	// Default is the value of an absent field that is not required.
	Default T
	// Parse turns the text into the value; its error says what the value
	// must be ("must be a positive whole number"). Nil is for string
	// fields, which are taken as they are.
	Parse func(string) (T, error)
	// Target marks a field that says where the trigger connects (an
	// address, host, URL or list of them): with a ClusterTriggerAuthentication's
	// credentials, a value the trigger gives itself must be one the
	// ClusterTriggerAuthentication allows (see ClusterAuth).
	Target bool
}

// ReadInto reads the field from l into *v, as Read does, unless an earlier
// ReadInto of l failed; the first error is kept for Err. A parser reads a
// run of fields with it and checks Err once, where it would return the
// first error of each Read.
func (f Field[T]) ReadInto(l *Lookup, v *T) {
	if l.err != nil {
		return
	}
	x, err := f.Read(l)
	if err != nil {
		l.err = err
		return
	}
	*v = x
}

// Read reads the field from l: its default when absent, an error naming
// the field when it is required and absent or does not parse.
func (f Field[T]) Read(l *Lookup) (T, error) {
	order := f.From
	if order == nil {
		order = MetadataOnly
	}
	raw, ok := l.Get(order, append([]string{f.Name}, f.Aliases...)...)
	if !ok {
		if f.Required {
			var zero T
			return zero, l.Errorf("%s: required", f.Name)
		}
		return f.Default, nil
	}
	if f.Target {
		if err := l.checkTarget(f.Name, raw); err != nil {
			var zero T
			return zero, err
		}
	}
	if f.Parse == nil {
		v, _ := any(raw).(T)
		return v, nil
	}
	v, err := f.Parse(raw)
	if err != nil {
		var zero T
		return zero, l.Invalid(f.Name, err.Error())
	}
	return v, nil
}

// Parsers for Field.Parse; their errors are the "why" of a field's error.

// Int parses a whole number.
func Int(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("must be a whole number")
	}
	return n, nil
}

// PositiveInt parses a whole number greater than 0.
func PositiveInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("must be a positive whole number")
	}
	return n, nil
}

// NonNegativeInt parses a whole number greater than or equal to 0.
func NonNegativeInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("must be a whole number ≥ 0")
	}
	return n, nil
}

// Number parses a finite decimal number.
func Number(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("must be a number")
	}
	return v, nil
}

// Bool parses true or false as strconv.ParseBool does.
func Bool(s string) (bool, error) {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("must be true or false")
	}
	return v, nil
}

// OneOf returns a parser that accepts exactly the given words.
func OneOf(words ...string) func(string) (string, error) {
	return func(s string) (string, error) {
		for _, w := range words {
			if s == w {
				return s, nil
			}
		}
		return "", fmt.Errorf("must be one of %s", strings.Join(words, ", "))
	}
}

// Default sets *v to def when *v is zero or negative: an Options field
// left unset takes its default.
func Default[T ~int | ~int64 | ~float64](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
