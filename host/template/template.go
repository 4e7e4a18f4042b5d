// Package template renders the Jinja2 templates of notifier url, title,
// body and attach options with gonja, using Moonraker's delimiters:
// { expr } for expressions, {% stmt %} for statements and {# #} for
// comments, so configs written for Moonraker work unchanged.
//
// # Guarantees
//
//   - Compile reports a syntax error with its line and column.
//   - A compiled Template is immutable and may be rendered from many
//     goroutines at once.
//   - Globals: secrets (the [secrets] file) and raise_error(msg), which
//     aborts rendering with msg. Filters: gonja's builtins (default, round,
//     int, float, replace, upper, format, tojson …) plus fromjson.
//   - Rendered text is stripped of leading and trailing white space, as in
//     Moonraker.
package template

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// Engine compiles templates that share one set of globals.
type Engine struct {
	cfg *config.Config
	env *exec.Environment
}

// Error is a template that did not compile or render.
type Error struct {
	// Line and Column locate the problem (1-based; 0 when unknown).
	Line, Column int
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return e.Msg
}

// errRaised marks a raise_error() call in a template.
var errRaised = errors.New("raise_error")

// New returns an Engine whose templates see secrets as the global
// "secrets".
func New(secrets map[string]any) *Engine {
	cfg := config.New()
	cfg.VariableStartString = "{"
	cfg.VariableEndString = "}"
	if secrets == nil {
		secrets = map[string]any{}
	}
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{})
	filters.Update(gonja.DefaultEnvironment.Filters)
	_ = filters.Register("fromjson", filterFromJSON)
	globals := exec.EmptyContext().Update(gonja.DefaultEnvironment.Context).Update(exec.NewContext(map[string]any{
		"secrets": secrets,
		"raise_error": func(msg string) (string, error) {
			return "", fmt.Errorf("%w: %s", errRaised, msg)
		},
	}))
	env := &exec.Environment{
		Context:           globals,
		Filters:           filters,
		Tests:             gonja.DefaultEnvironment.Tests,
		ControlStructures: gonja.DefaultEnvironment.ControlStructures,
		Methods:           gonja.DefaultEnvironment.Methods,
	}
	return &Engine{cfg: cfg, env: env}
}

func filterFromJSON(_ *exec.Evaluator, in *exec.Value, _ *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	dec := json.NewDecoder(strings.NewReader(in.String()))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return exec.AsValue(fmt.Errorf("fromjson: %v", err))
	}
	return exec.AsValue(pythonNumbers(v))
}

// pythonNumbers turns JSON numbers into int64 or float64 as Python's
// json.loads would, so that 2 renders as "2", not "2.0".
func pythonNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i
		}
		f, _ := t.Float64()
		return f
	case []any:
		for i := range t {
			t[i] = pythonNumbers(t[i])
		}
	case map[string]any:
		for k := range t {
			t[k] = pythonNumbers(t[k])
		}
	}
	return v
}

// Template is a compiled template.
type Template struct {
	src    string
	tpl    *exec.Template
	static bool
}

// Compile parses src. name identifies it in gonja's own messages.
func (e *Engine) Compile(name, src string) (*Template, error) {
	if !strings.ContainsAny(src, "{") {
		return &Template{src: src, static: true}, nil
	}
	loader, err := loaders.NewMemoryLoader(map[string]string{"/" + name: src})
	if err != nil {
		return nil, &Error{Msg: err.Error()}
	}
	tpl, err := exec.NewTemplate("/"+name, e.cfg, loader, e.env)
	if err != nil {
		return nil, parseError(src, err)
	}
	return &Template{src: src, tpl: tpl}, nil
}

// Source returns the template text as written.
func (t *Template) Source() string { return t.src }

// Render executes the template with vars and strips the result.
func (t *Template) Render(vars map[string]any) (string, error) {
	if t.static {
		return strings.TrimSpace(t.src), nil
	}
	out, err := t.tpl.ExecuteToString(exec.NewContext(vars))
	if err != nil {
		return "", renderError(err)
	}
	return strings.TrimSpace(out), nil
}

var (
	posRe    = regexp.MustCompile(`\(Line: (\d+) Col: (\d+)(?:, near "[^"]*")?\)`)
	renderRe = regexp.MustCompile(`(?s)^unable to execute template: (.*)$`)
	atLineRe = regexp.MustCompile(`at line (\d+)`)
)

var structRe = regexp.MustCompile(`controlStructure "(\w+)"`)

// parseError turns gonja's parse error into line, column and message. When
// gonja gives no position for a bad statement, the statement's tag is
// located in the source.
func parseError(src string, err error) *Error {
	msg := err.Error()
	e := &Error{}
	if m := posRe.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		e.Column, _ = strconv.Atoi(m[2])
		msg = strings.TrimSpace(posRe.ReplaceAllString(msg, ""))
	} else if m := structRe.FindStringSubmatch(msg); m != nil {
		if loc := regexp.MustCompile(`\{%-?\s*` + m[1] + `\b`).FindStringIndex(src); loc != nil {
			before := src[:loc[0]]
			e.Line = strings.Count(before, "\n") + 1
			e.Column = loc[0] - strings.LastIndex(before, "\n")
		}
	}
	// Drop gonja's "failed to parse template '<source>': " prefix.
	if i := strings.Index(msg, "': "); strings.HasPrefix(msg, "failed to parse template") && i >= 0 {
		msg = msg[i+3:]
	}
	e.Msg = msg
	return e
}

// renderError shortens gonja's execution error; a raise_error() message is
// returned as written.
func renderError(err error) *Error {
	msg := err.Error()
	if i := strings.Index(msg, errRaised.Error()+": "); i >= 0 {
		return &Error{Msg: "raise_error: " + msg[i+len(errRaised.Error())+2:]}
	}
	if m := renderRe.FindStringSubmatch(msg); m != nil {
		msg = m[1]
	}
	e := &Error{Msg: msg}
	if m := atLineRe.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
	}
	return e
}
