package webhook

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// CloudEvents media types and binary-mode headers (CloudEvents 1.0 HTTP
// protocol binding).
const (
	mediaJSON         = "application/json"
	mediaCloudEvent   = "application/cloudevents+json"
	mediaCloudBatch   = "application/cloudevents-batch+json"
	ceSpecVersion     = "1.0"
	headerSpecVersion = "Ce-Specversion"
	headerID          = "Ce-Id"
	headerSource      = "Ce-Source"
	headerType        = "Ce-Type"
)

// bodyMode is how a POST body is to be read.
type bodyMode uint8

const (
	modePlain      bodyMode = iota + 1 // application/json value/delta
	modeStructured                     // one CloudEvent in JSON
	modeBatch                          // a JSON array of CloudEvents
	modeBinary                         // attributes in ce-* headers, body is data
)

// requestMode picks the body mode from the content type and headers; ok is
// false for an unsupported content type. Structured and batch content types
// win over ce-* headers, as the binding says.
func requestMode(h http.Header) (m bodyMode, ok bool) {
	mt := mediaType(h.Get("Content-Type"))
	switch {
	case strings.EqualFold(mt, mediaCloudEvent):
		return modeStructured, true
	case strings.EqualFold(mt, mediaCloudBatch):
		return modeBatch, true
	case h.Get(headerSpecVersion) != "":
		return modeBinary, true
	case strings.EqualFold(mt, mediaJSON):
		return modePlain, true
	}
	return 0, false
}

// mediaType returns the media type of a Content-Type value without its
// parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.TrimSpace(ct)
}

// isJSONMedia reports whether data of media type mt is JSON.
func isJSONMedia(mt string) bool {
	mt = strings.ToLower(mt)
	return mt == mediaJSON || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// cloudEvent holds the attributes of a structured-mode event that matter
// here; the rest are ignored.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
}

// validateAttrs checks the required context attributes.
func validateAttrs(specVersion, id, source, typ string) error {
	switch {
	case specVersion != ceSpecVersion:
		return fmt.Errorf("cloudevent specversion %q: must be %q", specVersion, ceSpecVersion)
	case id == "":
		return fmt.Errorf("cloudevent id: required")
	case source == "":
		return fmt.Errorf("cloudevent source: required")
	case typ == "":
		return fmt.Errorf("cloudevent type: required")
	}
	return nil
}

// parseStructured parses one structured-mode event.
func parseStructured(body []byte) (op, error) {
	var ev cloudEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return op{}, fmt.Errorf("malformed CloudEvent: %w", err)
	}
	return ev.op()
}

// op validates ev and says what it does.
func (ev *cloudEvent) op() (op, error) {
	if err := validateAttrs(ev.SpecVersion, ev.ID, ev.Source, ev.Type); err != nil {
		return op{}, err
	}
	// In the JSON format, JSON data is held as JSON; any other data is a
	// string (or data_base64), which can never be an object.
	return dataOp(ev.Data)
}

// parseBinary parses a binary-mode request: attributes in headers, the body
// is the data.
func parseBinary(h http.Header, body []byte) (op, error) {
	if err := validateAttrs(h.Get(headerSpecVersion), h.Get(headerID), h.Get(headerSource), h.Get(headerType)); err != nil {
		return op{}, err
	}
	if ct := mediaType(h.Get("Content-Type")); ct != "" && !isJSONMedia(ct) {
		return op{kind: opArrival}, nil
	}
	return dataOp(body)
}

// dataOp is what an event with this data does: value or delta when it is a
// JSON object holding either (validated as a plain body is), else (other
// JSON, or data that is not JSON at all) an arrival.
func dataOp(data json.RawMessage) (op, error) {
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' {
		return op{kind: opArrival}, nil
	}
	var b valueBody
	if err := json.Unmarshal(data, &b); err != nil || !b.has() {
		return op{kind: opArrival}, nil
	}
	return b.op()
}
