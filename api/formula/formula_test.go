package formula

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCompile(t *testing.T) {
	names := []string{"a", "b", "queue_depth"}
	cases := []struct {
		name    string
		src     string
		wantErr string // substring; "" for success
		uses    []string
	}{
		{name: "sum", src: "a + b", uses: []string{"a", "b"}},
		{name: "average", src: "(a + b) / 2", uses: []string{"a", "b"}},
		{name: "ternary of integers is a number", src: "a > 1 ? 1 : 2", uses: []string{"a"}},
		{name: "builtin functions", src: "max(a, queue_depth) * 2", uses: []string{"a", "queue_depth"}},
		{name: "nil coalescing", src: "a ?? b ?? 8", uses: []string{"a", "b"}},
		{name: "a constant uses no trigger", src: "5", uses: []string{}},
		{name: "empty", src: "  ", wantErr: "must not be empty"},
		{name: "syntax error", src: "a +", wantErr: "does not compile: unexpected token EOF"},
		{name: "unknown trigger name", src: "a + c", wantErr: "unknown name c"},
		{name: "unknown name lists the known ones", src: "c", wantErr: "can use are a, b, queue_depth"},
		{name: "boolean is not a number", src: "a > b", wantErr: "must yield a number, yields bool"},
		{name: "string is not a number", src: `"x"`, wantErr: "must yield a number, yields string"},
		{name: "nil is not a number", src: "nil", wantErr: "must yield a number, yields nil"},
		{name: "type error", src: "a % 2", wantErr: "does not compile"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.src, names)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Compile(%q) error %v, want one containing %q", tc.src, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "\n") {
					t.Errorf("error spans lines: %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%q): %v", tc.src, err)
			}
			if got := f.Uses(); strings.Join(got, ",") != strings.Join(tc.uses, ",") {
				t.Errorf("Uses() = %v, want %v", got, tc.uses)
			}
			if f.String() != tc.src {
				t.Errorf("String() = %q", f.String())
			}
		})
	}
}

func TestCompileWithoutNames(t *testing.T) {
	_, err := Compile("a", nil)
	if err == nil || !strings.Contains(err.Error(), "no trigger other than cpu or memory has a name") {
		t.Fatalf("error %v", err)
	}
}

func TestEval(t *testing.T) {
	names := []string{"a", "b"}
	cases := []struct {
		name    string
		src     string
		values  map[string]any
		want    float64
		wantErr error
		anyErr  bool
	}{
		{name: "sum", src: "a + b", values: map[string]any{"a": 2.0, "b": 5.0}, want: 7},
		{name: "average", src: "(a + b) / 2", values: map[string]any{"a": 3.0, "b": 4.0}, want: 3.5},
		{name: "integer result", src: "a > 1 ? 10 : 20", values: map[string]any{"a": 2.0, "b": 0.0}, want: 10},
		{name: "nil routes to the next", src: "a ?? b ?? 8", values: map[string]any{"a": nil, "b": 3.0}, want: 3},
		{name: "all nil reaches the literal", src: "a ?? b ?? 8", values: map[string]any{"a": nil, "b": nil}, want: 8},
		{name: "all nil without literal is ErrNil", src: "a ?? b", values: map[string]any{"a": nil, "b": nil}, wantErr: ErrNil},
		{name: "nil outside ?? fails", src: "a + b", values: map[string]any{"a": nil, "b": 1.0}, anyErr: true},
		{name: "division by zero is infinite, not an error", src: "a / b", values: map[string]any{"a": 1.0, "b": 0.0}, want: math.Inf(1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.src, names)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Eval(tc.values)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Eval error %v, want %v", err, tc.wantErr)
				}
			case tc.anyErr:
				if err == nil || errors.Is(err, ErrNil) {
					t.Fatalf("Eval = %v, %v; want a run-time error", got, err)
				}
			case err != nil:
				t.Fatalf("Eval: %v", err)
			case got != tc.want:
				t.Fatalf("Eval = %v, want %v", got, tc.want)
			}
		})
	}
}
