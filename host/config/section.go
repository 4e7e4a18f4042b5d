package config

import (
	"errors"
	"fmt"
	"reflect"
)

// Section is one component section of the config file, such as [spoolman]
// or [notifier.phone]. This package does not check its keys: the component
// decodes them with Decode, and reports its own checks with Errorf, so that
// every message carries file and line.
//
// A Section is not changed after Load or Parse return and may be shared
// between goroutines.
type Section struct {
	// Name is the section as written between the brackets:
	// "spoolman", "notifier.phone".
	Name string
	// Kind is the component the section belongs to: "spoolman", "notifier".
	Kind string
	// Instance is the part after the kind, "phone" for [notifier.phone];
	// "" for sections that exist once.
	Instance string
	// Line is the line of the section header, or of the first key that
	// creates the section.
	Line int

	raw   map[string]any
	file  string
	path  keyPath // where the section sits in the document
	index *lineIndex
}

// Decode copies the section's keys into v, a pointer to a struct whose
// fields carry `toml:"key"` tags (or to a map).
//
// Decoding is strict and complete: a key without a field and a value of the
// wrong kind each become an *Error with file and line, and decoding goes on
// so that Decode returns every problem at once, as Errors sorted by line.
//
// Besides the basic kinds, slices, maps, nested structs and pointers, a
// field may be a time.Duration (a number of seconds, or text like "1m30s"),
// a time.Time (a TOML date), any type implementing encoding.TextUnmarshaler
// (from text), or an interface{} that receives a copy of the raw value.
//
// # Notes
//
//   - Fields whose keys are absent are left as they are: set defaults in v
//     before calling Decode.
//   - A key matches a field's `toml` tag exactly; a field without a tag
//     matches its Go name in any case.
//   - An UnmarshalText error is shown to the owner as written, so make its
//     text readable, or decode into a string and check it with Errorf.
func (s *Section) Decode(v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return errors.New("config: Decode needs a non-nil pointer")
	}
	d := &decoder{file: s.file, section: s.Name, base: s.path, index: s.index}
	d.value(nil, s.raw, rv.Elem())
	return d.errs.err()
}

// Errorf returns a problem positioned at key, for checks a component makes
// after Decode. key is written as in the file, relative to the section:
// "url", "headers.Authorization", "events[2]". When the file does not have
// the key, the problem points at the nearest enclosing table, or at the
// section header.
func (s *Section) Errorf(key, format string, args ...any) *Error {
	abs := append(append(keyPath{}, s.path...), parseKeyPath(key)...)
	line := s.index.nearestLine(abs)
	if line == 0 {
		line = s.Line
	}
	return &Error{File: s.file, Line: line, Section: s.Name, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Raw returns a copy of the section's keys as TOML decoded them: string,
// int64, float64, bool, []any, map[string]any and go-toml's date and time
// types.
func (s *Section) Raw() map[string]any {
	return deepCopy(s.raw).(map[string]any)
}
