// Package promql finds the metric names a PromQL expression (or a Grafana
// query) selects, without the weight of Prometheus' own parser: a small
// tokenizer that skips functions, aggregation operators, keywords, label
// matchers, strings, numbers and durations, range and subquery brackets,
// Grafana variables and the label lists of by, without, on, ignoring,
// group_left and group_right. Its unit tests are the contract.
package promql

import (
	"fmt"
	"sort"
	"strings"
)

// aggregations are PromQL's aggregation operators: an identifier among them
// is never a metric, even when "by (...)" separates it from its "(".
var aggregations = set("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
	"bottomk", "topk", "quantile", "limitk", "limit_ratio")

// listKeywords take a parenthesized list of label names.
var listKeywords = set("by", "without", "on", "ignoring", "group_left", "group_right")

// keywords are the other bare words that are not metrics.
var keywords = set("and", "or", "unless", "offset", "bool", "inf", "nan", "atan2")

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// MetricNames returns the metric names expr selects, sorted and unique.
func MetricNames(expr string) ([]string, error) {
	found := map[string]bool{}
	s := scanner{src: expr}
	for s.more() {
		c := s.peek()
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			s.pos++
		case c == '"' || c == '\'' || c == '`':
			if err := s.skipString(); err != nil {
				return nil, err
			}
		case c == '{':
			if err := s.skipTo('}'); err != nil {
				return nil, err
			}
		case c == '[':
			if err := s.skipTo(']'); err != nil {
				return nil, err
			}
		case c == '$': // a Grafana variable: $name, ${name}, [[name]] is in brackets
			s.pos++
			if s.more() && s.peek() == '{' {
				if err := s.skipTo('}'); err != nil {
					return nil, err
				}
			} else {
				s.ident()
			}
		case isDigit(c) || (c == '.' && s.pos+1 < len(s.src) && isDigit(s.src[s.pos+1])):
			s.number()
		case isIdentStart(c):
			word := s.ident()
			next := s.nextNonSpace()
			switch {
			case listKeywords[word]:
				if next == '(' {
					s.skipSpace()
					if err := s.skipTo(')'); err != nil {
						return nil, err
					}
				}
			case aggregations[word] || keywords[word]:
			case next == '(': // a function call
			default:
				found[word] = true
			}
		default:
			s.pos++ // operators, parentheses, commas, @
		}
	}
	names := make([]string, 0, len(found))
	for n := range found {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// GrafanaQueryNames returns the metric names of a Grafana Prometheus query:
// label_values(expr, label) selects those of expr, label_values(label) and
// the other template functions none; anything else is PromQL.
func GrafanaQueryNames(q string) ([]string, error) {
	q = strings.TrimSpace(q)
	if rest, ok := strings.CutPrefix(q, "label_values("); ok {
		args, ok := strings.CutSuffix(strings.TrimSpace(rest), ")")
		if !ok {
			return nil, fmt.Errorf("promql: %q: label_values without its closing parenthesis", q)
		}
		i := strings.LastIndex(args, ",")
		if i < 0 {
			return nil, nil
		}
		return MetricNames(args[:i])
	}
	for _, f := range []string{"label_names(", "metrics(", "query_result("} {
		if rest, ok := strings.CutPrefix(q, f); ok {
			if f == "query_result(" {
				return MetricNames(strings.TrimSuffix(rest, ")"))
			}
			return nil, nil
		}
	}
	return MetricNames(q)
}
