package prometheus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// errNoValue is an answer without a value: an empty result, an empty
// sample, null, NaN or ±Inf. With ignoreNullValues (the default) it reads
// as 0, as in KEDA.
var errNoValue = errors.New("the query returned no value")

// answer is the query API's answer (GET /api/v1/query).
type answer struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// sample is one series of an instant vector; its value is [time, "v"].
type sample struct {
	Value []json.RawMessage `json:"value"`
}

// value returns the single number of a query API answer: the one sample
// of an instant vector, or a scalar. An answer with more than one series
// is an error, as in KEDA; so are range vectors and strings (KEDA reads
// them as empty). The query API's own error is shown, cut short.
func value(body []byte) (float64, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, fmt.Errorf("not a query API answer: %w", err)
	}
	if a.Status != "success" {
		return 0, fmt.Errorf("query failed: %s: %s", short(a.ErrorType), short(a.Error))
	}
	var pair []json.RawMessage
	switch a.Data.ResultType {
	case "vector":
		var series []sample
		if err := json.Unmarshal(a.Data.Result, &series); err != nil {
			return 0, fmt.Errorf("not a query API answer: vector: %w", err)
		}
		switch {
		case len(series) == 0:
			return 0, fmt.Errorf("%w: the result is empty", errNoValue)
		case len(series) > 1:
			return 0, fmt.Errorf("the query returned %d series: it must return at most one (aggregate it, e.g. sum(...))", len(series))
		}
		pair = series[0].Value
	case "scalar":
		if err := json.Unmarshal(a.Data.Result, &pair); err != nil {
			return 0, fmt.Errorf("not a query API answer: scalar: %w", err)
		}
	default:
		return 0, fmt.Errorf("the query returned a %s: it must return an instant vector or a scalar", short(a.Data.ResultType))
	}
	switch {
	case len(pair) == 0:
		return 0, fmt.Errorf("%w: the sample is empty", errNoValue)
	case len(pair) != 2:
		return 0, errors.New("not a query API answer: a sample is [time, value]")
	case bytes.Equal(bytes.TrimSpace(pair[1]), []byte("null")):
		return 0, fmt.Errorf("%w: null", errNoValue)
	}
	var text string
	if err := json.Unmarshal(pair[1], &text); err != nil {
		return 0, errors.New("not a query API answer: a sample's value is a string")
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("not a query API answer: value %q is not a number", short(text))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: %s", errNoValue, text)
	}
	return v, nil
}

// short cuts a peer's text to a length fit for a status message.
func short(s string) string {
	const max = 200
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
