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
	var b valueBody
	if err := json.Unmarshal(body, &b); err != nil {
		return op{}, fmt.Errorf("malformed JSON body: %w", err)
	}
	return b.op()
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
