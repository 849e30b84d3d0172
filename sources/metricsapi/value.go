package metricsapi

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tidwall/gjson"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// value reads the number at c.ValueLocation in body, in c.Format.
func (c Config) value(body []byte) (float64, error) {
	var v float64
	var err error
	switch c.Format {
	case FormatYAML:
		v, err = yamlValue(body, c.ValueLocation)
	case FormatPrometheus:
		v, err = c.selector.value(body)
	default:
		v, err = jsonValue(body, c.ValueLocation)
	}
	if err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
		err = fmt.Errorf("valueLocation %q: %g is not a number the HPA can use", c.ValueLocation, v)
	}
	return v, err
}

// jsonValue is the number, or the Kubernetes quantity ("10k", "250m") in
// a string, at GJSON path loc, as KEDA reads it.
func jsonValue(body []byte, loc string) (float64, error) {
	if !gjson.ValidBytes(body) {
		return 0, errors.New("the answer is not JSON")
	}
	r := gjson.GetBytes(body, loc)
	switch r.Type {
	case gjson.Number:
		return r.Num, nil
	case gjson.String:
		return quantity(loc, r.Str)
	}
	return 0, fmt.Errorf("valueLocation %q: must point to a number or a quantity string, found %s", loc, kind(r))
}

func kind(r gjson.Result) string {
	switch {
	case !r.Exists():
		return "nothing"
	case r.IsArray():
		return "an array"
	case r.IsObject():
		return "an object"
	}
	return strings.ToLower(r.Type.String())
}

// quantity parses a Kubernetes quantity.
func quantity(loc, s string) (float64, error) {
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, fmt.Errorf("valueLocation %q: points to a string that is not a quantity", loc)
	}
	return q.AsApproximateFloat64(), nil
}

// yamlValue is the number at the dot-separated path loc of a YAML
// document, a number in a path step indexing a list, as KEDA reads it.
func yamlValue(body []byte, loc string) (float64, error) {
	var doc any
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return 0, errors.New("the answer is not YAML")
	}
	cur := doc
	for _, key := range strings.Split(loc, ".") {
		switch node := cur.(type) {
		case map[string]any:
			next, ok := node[key]
			if !ok {
				return 0, fmt.Errorf("valueLocation %q: no %q", loc, key)
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(key)
			if err != nil || i < 0 || i >= len(node) {
				return 0, fmt.Errorf("valueLocation %q: no item %q", loc, key)
			}
			cur = node[i]
		default:
			return 0, fmt.Errorf("valueLocation %q: %q is past a value", loc, key)
		}
	}
	switch v := cur.(type) {
	case float64:
		return v, nil
	case string:
		return quantity(loc, v)
	}
	return 0, fmt.Errorf("valueLocation %q: must point to a number or a quantity string", loc)
}

// selector is a metric selector of the Prometheus text format:
// name{label="value",...}, equality matchers only.
type selector struct {
	name   string
	labels map[string]string
}

var (
	selectorRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?$`)
	matcherRE  = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$`)
)

// parseSelector parses name or name{l1="v1",l2="v2"}.
func parseSelector(s string) (selector, error) {
	m := selectorRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return selector{}, errors.New(`must be a metric selector: name or name{label="value",...}`)
	}
	sel := selector{name: m[1], labels: map[string]string{}}
	if strings.TrimSpace(m[2]) == "" {
		return sel, nil
	}
	for _, part := range splitMatchers(m[2]) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		mm := matcherRE.FindStringSubmatch(part)
		if mm == nil {
			return selector{}, errors.New(`must be a metric selector: name or name{label="value",...} (equality matchers only)`)
		}
		v, err := strconv.Unquote(`"` + mm[2] + `"`)
		if err != nil {
			return selector{}, errors.New("must be a metric selector: a label value is not a quoted string")
		}
		sel.labels[mm[1]] = v
	}
	return sel, nil
}

// splitMatchers splits on the commas outside quotes.
func splitMatchers(s string) []string {
	var out []string
	quoted, escaped, start := false, false, 0
	for i, r := range s {
		switch {
		case escaped:
			escaped = false
		case r == '\\':
			escaped = true
		case r == '"':
			quoted = !quoted
		case r == ',' && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// value is the value of the first sample of the text-format exposition
// body whose name is the selector's and whose labels include its labels
// (an untyped, counter or gauge sample), as KEDA reads it.
func (sel selector) value(body []byte) (float64, error) {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	if len(body) > 0 && body[len(body)-1] != '\n' {
		body = append(body, '\n')
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("the answer is not in the Prometheus text format: %w", err)
	}
	fam, ok := families[sel.name]
	if !ok {
		return 0, fmt.Errorf("valueLocation: no metric %q in the answer", sel.name)
	}
	for _, m := range fam.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range sel.labels {
			if got, ok := have[k]; !ok || got != v {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch {
		case m.GetUntyped() != nil && m.GetUntyped().Value != nil:
			return m.GetUntyped().GetValue(), nil
		case m.GetCounter() != nil && m.GetCounter().Value != nil:
			return m.GetCounter().GetValue(), nil
		case m.GetGauge() != nil && m.GetGauge().Value != nil:
			return m.GetGauge().GetValue(), nil
		}
	}
	return 0, fmt.Errorf("valueLocation: no sample of %q with the selector's labels", sel.name)
}
