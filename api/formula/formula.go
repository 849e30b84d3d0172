// Package formula compiles and evaluates the expr-lang expression of a
// ScaledObject's advanced.scalingModifiers.formula, as KEDA does: the
// variables are the names of the object's triggers (cpu and memory
// triggers excluded), each a float64, and the result must be a number.
//
// A trigger may be given as nil instead of a number (a trigger in
// fallback with fallback.behavior scalingModifiers): the formula can route
// around it with the nil-coalescing operator, `a ?? b ?? 8`, and a formula
// that evaluates to nil tells the caller to use fallback.replicas.
//
// A Formula is immutable and safe for concurrent use.
package formula

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// probeValue is the value every variable takes when a formula is checked at
// compile time, as KEDA's admission webhook does.
const probeValue = -1.0

// ErrNil is returned by Eval when the formula evaluates to nil: every
// trigger of a `??` chain is nil and no literal ends it.
var ErrNil = errors.New("formula evaluated to nil")

// Formula is a compiled scalingModifiers formula.
type Formula struct {
	src     string
	program *vm.Program
	uses    []string
}

// Compile compiles src with the trigger names triggers as its variables and
// checks that it yields a number: it runs it once with every variable at -1
// (KEDA's probe value). The error says what is wrong, naming the unknown
// trigger when src uses a name that is not one of triggers.
func Compile(src string, triggers []string) (*Formula, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("must not be empty")
	}
	env := make(map[string]any, len(triggers))
	probe := make(map[string]any, len(triggers))
	for _, n := range triggers {
		env[n], probe[n] = 0.0, probeValue
	}
	program, err := expr.Compile(src, expr.Env(env))
	if err != nil {
		var known string
		if len(triggers) > 0 {
			sorted := slices.Clone(triggers)
			slices.Sort(sorted)
			known = "; the trigger names it can use are " + strings.Join(sorted, ", ")
		} else {
			known = "; no trigger other than cpu or memory has a name"
		}
		return nil, fmt.Errorf("does not compile: %s%s", oneLine(err), known)
	}
	f := &Formula{src: src, program: program, uses: variables(program, env)}
	out, err := expr.Run(program, probe)
	if err != nil {
		return nil, fmt.Errorf("fails with every trigger at %g: %s", probeValue, oneLine(err))
	}
	if _, err := number(out); err != nil {
		return nil, err
	}
	return f, nil
}

// String returns the formula's source.
func (f *Formula) String() string { return f.src }

// Uses returns the trigger names the formula refers to, sorted.
func (f *Formula) Uses() []string { return slices.Clone(f.uses) }

// Eval evaluates the formula with values: one entry per trigger name, a
// float64 or nil. A formula that evaluates to nil returns ErrNil; one that
// fails at run time (an operation on a nil trigger outside `??`, for
// example) or yields no number returns another error.
func (f *Formula) Eval(values map[string]any) (float64, error) {
	out, err := expr.Run(f.program, values)
	if err != nil {
		return 0, fmt.Errorf("formula %q: %s", f.src, oneLine(err))
	}
	if out == nil {
		return 0, ErrNil
	}
	v, err := number(out)
	if err != nil {
		return 0, fmt.Errorf("formula %q: %w", f.src, err)
	}
	return v, nil
}

// number converts a formula's result to a float64 (KEDA wraps every formula
// in float(), so integers, e.g. of a ternary, count as numbers).
func number(out any) (float64, error) {
	rv := reflect.ValueOf(out)
	switch {
	case out == nil:
		return 0, errors.New("must yield a number, yields nil")
	case rv.CanFloat():
		return rv.Float(), nil
	case rv.CanInt():
		return float64(rv.Int()), nil
	case rv.CanUint():
		return float64(rv.Uint()), nil
	}
	return math.NaN(), fmt.Errorf("must yield a number, yields %T %v", out, out)
}

// variables returns the names of env that program refers to, sorted.
func variables(program *vm.Program, env map[string]any) []string {
	v := &collector{env: env, seen: map[string]bool{}}
	node := program.Node()
	ast.Walk(&node, v)
	names := make([]string, 0, len(v.seen))
	for n := range v.seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

type collector struct {
	env  map[string]any
	seen map[string]bool
}

func (c *collector) Visit(node *ast.Node) {
	if id, ok := (*node).(*ast.IdentifierNode); ok {
		if _, ok := c.env[id.Value]; ok {
			c.seen[id.Value] = true
		}
	}
}

// oneLine keeps the first line of an expr error: the rest is a source
// excerpt with a caret, which does not read well in a condition message.
func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
