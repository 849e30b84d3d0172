package webhook

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// opKind is what one event does to a stream.
type opKind uint8

const (
	opValue   opKind = iota + 1 // set the level
	opDelta                     // add to the level
	opArrival                   // count one arrival
)

// op is one event, parsed and validated.
type op struct {
	kind opKind
	n    float64
}

// valueBody is {"value": n} or {"delta": n}. The fields stay raw so that a
// string, a null or an out-of-range number is told apart from a number.
type valueBody struct {
	Value json.RawMessage `json:"value"`
	Delta json.RawMessage `json:"delta"`
}

// has reports whether the body holds value or delta at all.
func (b *valueBody) has() bool { return b.Value != nil || b.Delta != nil }

// MaxValue bounds a stream's level, a value, a delta and a target: the
// metrics API and the HPA hold quantities as int64 milli-units (at most
// 9.2e15), so 1e15 keeps every level exact to the milli and far from
// overflow. A level that deltas or arrivals would carry past it saturates.
const MaxValue = 1e15

// op validates b: exactly one of value (a number from 0 to MaxValue) and
// delta (a number from -MaxValue to MaxValue).
func (b *valueBody) op() (op, error) {
	switch {
	case b.Value != nil && b.Delta != nil:
		return op{}, fmt.Errorf(`give either "value" or "delta", not both`)
	case b.Value != nil:
		v, err := parseNumber("value", b.Value)
		if err != nil {
			return op{}, err
		}
		if v < 0 {
			return op{}, fmt.Errorf(`"value" %s: must be greater than or equal to 0`, clip(b.Value))
		}
		if v > MaxValue {
			return op{}, fmt.Errorf(`"value" %s: must be at most %g`, clip(b.Value), float64(MaxValue))
		}
		return op{kind: opValue, n: v + 0}, nil // + 0 turns -0 into 0
	case b.Delta != nil:
		v, err := parseNumber("delta", b.Delta)
		if err != nil {
			return op{}, err
		}
		if v < -MaxValue || v > MaxValue {
			return op{}, fmt.Errorf(`"delta" %s: must be between %g and %g`, clip(b.Delta), -float64(MaxValue), float64(MaxValue))
		}
		return op{kind: opDelta, n: v}, nil
	default:
		return op{}, fmt.Errorf(`give "value" or "delta"`)
	}
}

// parsePlain parses an application/json body.
func parsePlain(body []byte) (op, error) {
	if b, ok := scanValueBody(body); ok {
		return b.op()
	}
	var b valueBody
	if err := json.Unmarshal(body, &b); err != nil {
		return op{}, fmt.Errorf("malformed JSON body: %w", err)
	}
	return b.op()
}

// scanValueBody reads the common body, one key "value" or "delta" (in
// lower case) and a number, e.g. {"delta": 1}, as json.Unmarshal would into
// a valueBody, without its reflection and allocations. Any other body
// (other keys or spellings, escapes, other values, invalid JSON) gives
// false, and is json.Unmarshal's to read.
func scanValueBody(body []byte) (valueBody, bool) {
	i := skipSpace(body, 0)
	if i >= len(body) || body[i] != '{' {
		return valueBody{}, false
	}
	i = skipSpace(body, i+1)
	var key string
	switch {
	case hasAt(body, i, `"value"`):
		key = "value"
	case hasAt(body, i, `"delta"`):
		key = "delta"
	default:
		return valueBody{}, false
	}
	i = skipSpace(body, i+len(key)+2)
	if i >= len(body) || body[i] != ':' {
		return valueBody{}, false
	}
	start := skipSpace(body, i+1)
	end, ok := scanNumber(body, start)
	if !ok {
		return valueBody{}, false
	}
	i = skipSpace(body, end)
	if i >= len(body) || body[i] != '}' || skipSpace(body, i+1) != len(body) {
		return valueBody{}, false
	}
	num := json.RawMessage(body[start:end:end])
	if key == "value" {
		return valueBody{Value: num}, true
	}
	return valueBody{Delta: num}, true
}

// skipSpace returns the index of the first byte from i on that is not JSON
// whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasAt(b []byte, i int, s string) bool {
	return len(b)-i >= len(s) && string(b[i:i+len(s)]) == s
}

// scanNumber returns the end of the JSON number starting at i:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; false if there is none.
func scanNumber(b []byte, i int) (int, bool) {
	digits := func(i int) int {
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digits(i + 1)
	default:
		return 0, false
	}
	if i < len(b) && b[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}

// parseNumber parses a JSON number token as a finite float64: strings,
// nulls, booleans and numbers beyond float64 (1e400) are refused.
func parseNumber(field string, raw json.RawMessage) (float64, error) {
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return 0, fmt.Errorf("%q %s: must be a number", field, clip(raw))
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%q %s: must be a finite number", field, clip(raw))
	}
	return v, nil
}

// clip shortens a raw value for an error message.
func clip(raw []byte) string {
	const max = 32
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}
