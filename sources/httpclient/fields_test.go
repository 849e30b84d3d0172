package httpclient

import (
	"testing"
	"time"
)

func TestPairs(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
		ok   bool
	}{
		{"a=1", map[string]string{"a": "1"}, true},
		{" a = 1 , b=2", map[string]string{"a": "1", "b": "2"}, true},
		{"a=", map[string]string{"a": ""}, true},
		{"a", nil, false},
		{"a=1=2", nil, false},
		{"=1", nil, false},
		{"a=1,", nil, false},
	}
	for _, tc := range tests {
		got, err := Pairs(tc.in)
		if (err == nil) != tc.ok || len(got) != len(tc.want) {
			t.Errorf("Pairs(%q) = %v, %v", tc.in, got, err)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("Pairs(%q)[%s] = %q, want %q", tc.in, k, got[k], v)
			}
		}
	}
}

func TestTimeout(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{{"1500", 1500 * time.Millisecond}, {"2s", 2 * time.Second}, {"0", 0}, {"-3", 0}, {"-1s", 0}, {"soon", 0}, {"99999999999999999", 0}}
	for _, tc := range tests {
		got, err := Timeout(tc.in)
		if got != tc.want || (err == nil) != (tc.want > 0) {
			t.Errorf("Timeout(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}
