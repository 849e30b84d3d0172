package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// DefaultMaxBatchEvents bounds the events of one CloudEvents batch.
const DefaultMaxBatchEvents = 1000

// errTooManyEvents is a batch with more events than a request may carry.
var errTooManyEvents = errors.New("too many events")

// parseBatch parses a batch-mode body as a stream, event after event,
// appending one op per event to ops. It stops with an error wrapping
// errTooManyEvents at event max+1 (max ≤ 0: no limit), before decoding it or
// anything after it, so the work a request causes is bounded by max, not by
// its size.
func parseBatch(body []byte, ops []op, max int) ([]op, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return nil, fmt.Errorf("malformed CloudEvents batch: must be a JSON array of events")
	}
	var ev cloudEvent
	for i := 0; dec.More(); i++ {
		if max > 0 && i == max {
			return nil, fmt.Errorf("CloudEvents batch of more than %d events: %w; split it", max, errTooManyEvents)
		}
		ev = cloudEvent{}
		if err := dec.Decode(&ev); err != nil {
			return nil, fmt.Errorf("malformed CloudEvents batch: event %d: %w", i, err)
		}
		o, err := ev.op()
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		ops = append(ops, o)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		return nil, fmt.Errorf("malformed CloudEvents batch: unterminated array")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("malformed CloudEvents batch: data after the array")
	}
	return ops, nil
}

// batchRejection maps a parseBatch error to its answer: 413 for too many
// events, else 400.
func batchRejection(err error) *rejection {
	if errors.Is(err, errTooManyEvents) {
		return &rejection{status: http.StatusRequestEntityTooLarge, reason: reasonTooLarge, msg: err.Error()}
	}
	return badRequest(err.Error())
}
