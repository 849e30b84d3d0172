package webhook

import (
	"strings"
	"testing"
)

func ceHeaders(extra map[string]string) map[string]string {
	h := map[string]string{"Ce-Specversion": "1.0", "Ce-Id": "1", "Ce-Source": "/test", "Ce-Type": "test.event"}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func TestCloudEvents(t *testing.T) {
	structured := map[string]string{"Content-Type": "application/cloudevents+json"}
	batch := map[string]string{"Content-Type": "application/cloudevents-batch+json; charset=utf-8"}
	const attrs = `"specversion":"1.0","id":"1","source":"/test","type":"test.event"`
	tests := []struct {
		name       string
		header     map[string]string
		body       string
		wantStatus int
		wantErr    string
		want       float64 // the level after the request; it starts at 0
	}{
		{name: "structured without data is an arrival", header: structured, body: `{` + attrs + `}`, wantStatus: 202, want: 1},
		{name: "structured with value data", header: structured, body: `{` + attrs + `,"datacontenttype":"application/json","data":{"value":7}}`, wantStatus: 202, want: 7},
		{name: "structured with delta data", header: structured, body: `{` + attrs + `,"data":{"delta":2,"other":"x"}}`, wantStatus: 202, want: 2},
		{name: "structured with other object data is an arrival", header: structured, body: `{` + attrs + `,"data":{"order":42}}`, wantStatus: 202, want: 1},
		{name: "structured with string data is an arrival", header: structured, body: `{` + attrs + `,"datacontenttype":"text/plain","data":"{\"value\":9}"}`, wantStatus: 202, want: 1},
		{name: "structured with data_base64 is an arrival", header: structured, body: `{` + attrs + `,"data_base64":"eyJ2YWx1ZSI6OX0="}`, wantStatus: 202, want: 1},
		{name: "structured with null data is an arrival", header: structured, body: `{` + attrs + `,"data":null}`, wantStatus: 202, want: 1},
		{name: "structured wins over ce headers", header: ceHeaders(structured), body: `{` + attrs + `,"data":{"value":3}}`, wantStatus: 202, want: 3},
		{name: "structured with a negative value", header: structured, body: `{` + attrs + `,"data":{"value":-1}}`, wantStatus: 400, wantErr: "must be greater than or equal to 0"},
		{name: "structured with value and delta", header: structured, body: `{` + attrs + `,"data":{"value":1,"delta":1}}`, wantStatus: 400, wantErr: "not both"},
		{name: "structured with a huge value", header: structured, body: `{` + attrs + `,"data":{"value":1e999}}`, wantStatus: 400, wantErr: "finite"},
		{name: "structured malformed", header: structured, body: `{` + attrs, wantStatus: 400, wantErr: "malformed CloudEvent"},
		{name: "structured without specversion", header: structured, body: `{"id":"1","source":"/s","type":"t"}`, wantStatus: 400, wantErr: `cloudevent specversion "": must be "1.0"`},
		{name: "structured with specversion 0.3", header: structured, body: `{"specversion":"0.3","id":"1","source":"/s","type":"t"}`, wantStatus: 400, wantErr: `specversion "0.3"`},
		{name: "structured without id", header: structured, body: `{"specversion":"1.0","source":"/s","type":"t"}`, wantStatus: 400, wantErr: "cloudevent id: required"},
		{name: "structured without source", header: structured, body: `{"specversion":"1.0","id":"1","type":"t"}`, wantStatus: 400, wantErr: "cloudevent source: required"},
		{name: "structured without type", header: structured, body: `{"specversion":"1.0","id":"1","source":"/s"}`, wantStatus: 400, wantErr: "cloudevent type: required"},
		{name: "structured with a numeric id", header: structured, body: `{"specversion":"1.0","id":1,"source":"/s","type":"t"}`, wantStatus: 400, wantErr: "malformed CloudEvent"},

		{name: "batch of arrivals", header: batch, body: `[{` + attrs + `},{` + attrs + `},{` + attrs + `}]`, wantStatus: 202, want: 3},
		{name: "batch in order: value, delta, arrival", header: batch, body: `[{` + attrs + `},{` + attrs + `,"data":{"value":10}},{` + attrs + `,"data":{"delta":2}},{` + attrs + `}]`, wantStatus: 202, want: 13},
		{name: "empty batch", header: batch, body: `[]`, wantStatus: 202, want: 0},
		{name: "batch with a bad event changes nothing", header: batch, body: `[{` + attrs + `,"data":{"value":10}},{"specversion":"1.0","id":"2","source":"/s"}]`, wantStatus: 400, wantErr: "event 1: cloudevent type: required"},
		{name: "batch that is not an array", header: batch, body: `{` + attrs + `}`, wantStatus: 400, wantErr: "malformed CloudEvents batch"},

		{name: "binary without body", header: ceHeaders(nil), wantStatus: 202, want: 1},
		{name: "binary with text data", header: ceHeaders(map[string]string{"Content-Type": "text/plain"}), body: `{"value": 5}`, wantStatus: 202, want: 1},
		{name: "binary with value data", header: ceHeaders(map[string]string{"Content-Type": "application/json"}), body: `{"value": 5}`, wantStatus: 202, want: 5},
		{name: "binary with +json delta data", header: ceHeaders(map[string]string{"Content-Type": "application/vnd.x+json; charset=utf-8"}), body: `{"delta": 4}`, wantStatus: 202, want: 4},
		{name: "binary with other JSON data", header: ceHeaders(map[string]string{"Content-Type": "application/json"}), body: `{"order": 1}`, wantStatus: 202, want: 1},
		{name: "binary with malformed JSON data", header: ceHeaders(map[string]string{"Content-Type": "application/json"}), body: `{"value": `, wantStatus: 202, want: 1},
		{name: "binary with a string value", header: ceHeaders(map[string]string{"Content-Type": "application/json"}), body: `{"value": "5"}`, wantStatus: 400, wantErr: "must be a number"},
		{name: "binary with specversion 0.3", header: ceHeaders(map[string]string{"Ce-Specversion": "0.3"}), wantStatus: 400, wantErr: `specversion "0.3"`},
		{name: "binary without ce-id", header: ceHeaders(map[string]string{"Ce-Id": ""}), wantStatus: 400, wantErr: "cloudevent id: required"},
		{name: "binary without ce-source", header: ceHeaders(map[string]string{"Ce-Source": ""}), wantStatus: 400, wantErr: "cloudevent source: required"},
		{name: "binary without ce-type", header: ceHeaders(map[string]string{"Ce-Type": ""}), wantStatus: 400, wantErr: "cloudevent type: required"},

		{name: "other cloudevents format", header: map[string]string{"Content-Type": "application/cloudevents+avro"}, body: `x`, wantStatus: 415, wantErr: "unsupported Content-Type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
			before := e.sink.Len()
			rr := e.do(req{Path: path("ns", "s"), Header: tc.header, Body: tc.body})
			if rr.Code != tc.wantStatus {
				t.Fatalf("status %d %s, want %d", rr.Code, rr.Body, tc.wantStatus)
			}
			if tc.wantErr != "" {
				if msg := errorBody(t, rr); !strings.Contains(msg, tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", msg, tc.wantErr)
				}
				if e.sink.Len() != before {
					t.Errorf("a refused request was recorded: %v", e.sink.Calls()[before:])
				}
			} else if _, v := level(t, rr); v != tc.want {
				t.Errorf("answered %g, want %g", v, tc.want)
			}
			if v := e.get("ns", "s", nil); v != tc.want {
				t.Errorf("level %g, want %g", v, tc.want)
			}
		})
	}
}

func TestBatchCountsEachEvent(t *testing.T) {
	e := newEnv(t, Options{})
	e.watch(trig(keyA, map[string]string{"stream": "s"}, nil))
	body := `[` + strings.Repeat(`{"specversion":"1.0","id":"1","source":"/s","type":"t"},`, 4) + `{"specversion":"1.0","id":"1","source":"/s","type":"t"}]`
	rr := e.do(req{Path: path("ns", "s"), Header: map[string]string{"Content-Type": "application/cloudevents-batch+json"}, Body: body})
	if rr.Code != 202 {
		t.Fatalf("%d %s", rr.Code, rr.Body)
	}
	if got := e.counter("accepted", "ok"); got != 5 {
		t.Errorf("accepted events %g, want 5", got)
	}
	// One record for the whole batch.
	if got := e.sink.Records(keyA); !equalFloats(got, []float64{0, 5}) {
		t.Errorf("records %v, want [0 5]", got)
	}
}
