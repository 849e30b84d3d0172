package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// scrapeHistogram reads /metrics from base and returns the histogram name
// whose labels include want.
func scrapeHistogram(ctx context.Context, client *http.Client, base, name string, want map[string]string) (histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return histogram{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return histogram{}, fmt.Errorf("scrape %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return histogram{}, fmt.Errorf("scrape %s/metrics: %s", base, resp.Status)
	}
	return parseHistogram(resp.Body, name, want)
}

// parseHistogram finds one histogram in the Prometheus text format: the
// series name_bucket, name_sum and name_count whose labels include want.
// A histogram with no series yet (nothing observed under those labels) is
// returned empty, not as an error.
func parseHistogram(r io.Reader, name string, want map[string]string) (histogram, error) {
	var h histogram
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || !strings.HasPrefix(line, name+"_") {
			continue
		}
		series, labels, value, err := parseSample(line)
		if err != nil {
			return histogram{}, fmt.Errorf("metrics line %q: %w", line, err)
		}
		if !matches(labels, want) {
			continue
		}
		switch series {
		case name + "_bucket":
			le, err := strconv.ParseFloat(labels["le"], 64)
			if err != nil {
				return histogram{}, fmt.Errorf("metrics line %q: le: %w", line, err)
			}
			h.Buckets = append(h.Buckets, bucket{UpperBound: le, Count: value})
		case name + "_sum":
			h.Sum = value
		case name + "_count":
			h.Count = value
		}
	}
	if err := sc.Err(); err != nil {
		return histogram{}, err
	}
	slices.SortFunc(h.Buckets, func(a, b bucket) int {
		switch {
		case a.UpperBound < b.UpperBound:
			return -1
		case a.UpperBound > b.UpperBound:
			return 1
		}
		return 0
	})
	if n := len(h.Buckets); n > 0 && !math.IsInf(h.Buckets[n-1].UpperBound, 1) {
		return histogram{}, fmt.Errorf("histogram %s has no +Inf bucket", name)
	}
	return h, nil
}

// parseSample splits `name{k="v",...} value [timestamp]`.
func parseSample(line string) (string, map[string]string, float64, error) {
	labels := map[string]string{}
	name, rest := line, ""
	if i := strings.IndexAny(line, "{ "); i >= 0 {
		name, rest = line[:i], line[i:]
	}
	if strings.HasPrefix(rest, "{") {
		var err error
		if rest, err = parseLabels(rest[1:], labels); err != nil {
			return "", nil, 0, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", nil, 0, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return "", nil, 0, fmt.Errorf("value: %w", err)
	}
	return name, labels, v, nil
}

// parseLabels reads `k="v",k2="v2"}` into into and returns what follows the
// closing brace. Values may hold \" \\ and \n escapes.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if strings.HasPrefix(s, "}") {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return "", fmt.Errorf("malformed labels")
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s, closed = s[i+1:], true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("unterminated label value")
		}
		into[key] = val.String()
	}
}

func matches(labels, want map[string]string) bool {
	for k, v := range want {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// apiCount is the rate of one kind of apiserver request during a window.
type apiCount struct {
	Request string  `json:"request"` // "VERB group/resource[/subresource]"
	PerS    float64 `json:"per_s"`
}

// apiserverRequests returns apiserver_request_total summed by verb and
// resource (over codes, scopes and versions), from the apiserver's
// /metrics.
func (e *env) apiserverRequests(ctx context.Context) (map[string]float64, error) {
	raw, err := e.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return nil, fmt.Errorf("apiserver /metrics: %w", err)
	}
	return parseRequestCounts(strings.NewReader(string(raw)))
}

// topRequests is how many kinds of apiserver requests the report lists.
const topRequests = 5

// apiserverRequestsOrNil is apiserverRequests for a diagnostic: on error
// it says so and returns nil (the rates are then left out).
func (e *env) apiserverRequestsOrNil(ctx context.Context) map[string]float64 {
	m, err := e.apiserverRequests(ctx)
	if err != nil {
		progress("%v (apiserver request rates left out)", err)
		return nil
	}
	return m
}

func parseRequestCounts(r io.Reader) (map[string]float64, error) {
	const name = "apiserver_request_total"
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		_, l, v, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("apiserver metrics line %q: %w", line, err)
		}
		res := l["resource"]
		if l["group"] != "" {
			res = l["group"] + "/" + res
		}
		if l["subresource"] != "" {
			res += "/" + l["subresource"]
		}
		out[l["verb"]+" "+res] += v
	}
	return out, sc.Err()
}

// topRates returns the n largest increases from before to after, per
// second of window.
func topRates(before, after map[string]float64, window float64, n int) []apiCount {
	var out []apiCount
	if before == nil {
		return nil
	}
	for k, v := range after {
		if d := v - before[k]; d > 0 && window > 0 {
			out = append(out, apiCount{Request: k, PerS: d / window})
		}
	}
	slices.SortFunc(out, func(a, b apiCount) int {
		switch {
		case a.PerS > b.PerS:
			return -1
		case a.PerS < b.PerS:
			return 1
		}
		return strings.Compare(a.Request, b.Request)
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// scrapeCounter reads /metrics from base and returns the counter (or
// gauge) name's series whose labels include want, summed by the value of
// label by. A metric with no series yet gives an empty map.
func scrapeCounter(ctx context.Context, client *http.Client, base, name string, want map[string]string, by string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape %s/metrics: %w", base, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s/metrics: %s", base, resp.Status)
	}
	return parseCounter(resp.Body, name, want, by)
}

// parseCounter is scrapeCounter's parser, over the Prometheus text format.
func parseCounter(r io.Reader, name string, want map[string]string, by string) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		_, labels, v, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		if matches(labels, want) {
			out[labels[by]] += v
		}
	}
	return out, sc.Err()
}

// counterDelta returns after minus before, key by key, leaving out keys
// that did not grow.
func counterDelta(before, after map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}
