package config

import (
	"encoding"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
)

// decoder copies values decoded by go-toml (string, int64, float64, bool,
// []any, map[string]any and dates) into a Go value, strictly: unknown keys
// and wrong types become positioned *Error values, and decoding goes on so
// that every problem is reported in one pass.
type decoder struct {
	file    string
	section string     // for Error.Section
	base    keyPath    // where the section sits in the document
	index   *lineIndex // may be nil: no lines
	errs    Errors
}

// fail records a problem at rel, relative to the section.
func (d *decoder) fail(rel keyPath, format string, args ...any) {
	abs := append(slices.Clone(d.base), rel...)
	d.errs = append(d.errs, &Error{
		File:    d.file,
		Line:    d.index.nearestLine(abs),
		Section: d.section,
		Key:     rel.String(),
		Msg:     fmt.Sprintf(format, args...),
	})
}

// mismatch records that raw is not of the expected kind.
func (d *decoder) mismatch(rel keyPath, want string, raw any) {
	d.fail(rel, "expected %s, got %s", want, describe(raw))
}

// value decodes raw into v, which must be settable.
func (d *decoder) value(rel keyPath, raw any, v reflect.Value) {
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(t.Elem()))
		}
		d.value(rel, raw, v.Elem())
		return
	case t == reflect.TypeFor[time.Duration]():
		d.duration(rel, raw, v)
		return
	case t == reflect.TypeFor[time.Time]():
		d.time(rel, raw, v)
		return
	case v.CanAddr() && reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()):
		s, ok := raw.(string)
		if !ok {
			d.mismatch(rel, "text in quotes", raw)
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.fail(rel, "%q is not valid: %v", s, err)
		}
		return
	}

	switch t.Kind() {
	case reflect.Interface:
		if t.NumMethod() != 0 {
			d.fail(rel, "cannot be read by this version of moonrelay (field of interface type %s)", t)
			return
		}
		v.Set(reflect.ValueOf(deepCopy(raw)))
	case reflect.String:
		s, ok := raw.(string)
		if !ok {
			d.mismatch(rel, "text in quotes", raw)
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			d.mismatch(rel, "true or false", raw)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := wholeNumber(raw)
		if !ok {
			d.mismatch(rel, "a whole number", raw)
			return
		}
		if v.OverflowInt(n) {
			bits := t.Bits()
			d.fail(rel, "must be a whole number from %d to %d, got %d", int64(-1)<<(bits-1), int64(1)<<(bits-1)-1, n)
			return
		}
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		n, ok := wholeNumber(raw)
		if !ok {
			d.mismatch(rel, "a whole number", raw)
			return
		}
		if n < 0 || v.OverflowUint(uint64(n)) {
			limit := uint64(math.MaxUint64)
			if t.Bits() < 64 {
				limit = uint64(1)<<t.Bits() - 1
			}
			d.fail(rel, "must be a whole number from 0 to %d, got %d", limit, n)
			return
		}
		v.SetUint(uint64(n))
	case reflect.Float32, reflect.Float64:
		var f float64
		switch n := raw.(type) {
		case int64:
			f = float64(n)
		case float64:
			f = n
		default:
			d.mismatch(rel, "a number", raw)
			return
		}
		if v.OverflowFloat(f) {
			d.fail(rel, "the number %g is too large", f)
			return
		}
		v.SetFloat(f)
	case reflect.Slice, reflect.Array:
		list, ok := raw.([]any)
		if !ok {
			d.mismatch(rel, "a list in [brackets]", raw)
			return
		}
		if t.Kind() == reflect.Array {
			if len(list) > t.Len() {
				d.fail(rel, "must have at most %d entries, got %d", t.Len(), len(list))
				return
			}
			v.SetZero()
		} else {
			v.Set(reflect.MakeSlice(t, len(list), len(list)))
		}
		for i, elem := range list {
			d.value(rel.child(i), elem, v.Index(i))
		}
	case reflect.Map:
		table, ok := raw.(map[string]any)
		if !ok {
			d.mismatch(rel, "a table", raw)
			return
		}
		if t.Key().Kind() != reflect.String {
			d.fail(rel, "cannot be read by this version of moonrelay (map key type %s)", t.Key())
			return
		}
		if v.IsNil() {
			v.Set(reflect.MakeMapWithSize(t, len(table)))
		}
		for _, k := range sortedKeys(table) {
			elem := reflect.New(t.Elem()).Elem()
			d.value(rel.child(k), table[k], elem)
			v.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), elem)
		}
	case reflect.Struct:
		table, ok := raw.(map[string]any)
		if !ok {
			d.mismatch(rel, "a table", raw)
			return
		}
		d.fields(rel, table, v)
	default:
		d.fail(rel, "cannot be read by this version of moonrelay (field of type %s)", t)
	}
}

// fields decodes a table into a struct, matching keys against `toml` tags.
// Fields whose keys are absent keep their value, so defaults set before
// decoding survive.
func (d *decoder) fields(rel keyPath, table map[string]any, v reflect.Value) {
	fields := structFields(v.Type())
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.name
	}
	for _, k := range sortedKeys(table) {
		f, ok := findField(fields, k)
		if !ok {
			d.fail(rel.child(k), "unknown key%s", didYouMean(k, names))
			continue
		}
		d.value(rel.child(k), table[k], fieldByIndex(v, f.index))
	}
}

// duration accepts a number of seconds (Moonraker's convention) or Go's
// duration text such as "1m30s".
func (d *decoder) duration(rel keyPath, raw any, v reflect.Value) {
	const want = `a number of seconds or a duration like "1m30s"`
	var dur time.Duration
	switch n := raw.(type) {
	case int64:
		if n > math.MaxInt64/int64(time.Second) || n < math.MinInt64/int64(time.Second) {
			d.fail(rel, "%d seconds is too long", n)
			return
		}
		dur = time.Duration(n) * time.Second
	case float64:
		if math.IsNaN(n) || math.Abs(n) > float64(math.MaxInt64)/float64(time.Second) {
			d.fail(rel, "expected %s, got %s", want, describe(raw))
			return
		}
		dur = time.Duration(n * float64(time.Second))
	case string:
		var err error
		if dur, err = time.ParseDuration(n); err != nil {
			d.mismatch(rel, want, raw)
			return
		}
	default:
		d.mismatch(rel, want, raw)
		return
	}
	v.SetInt(int64(dur))
}

// time accepts TOML dates and times; local ones are taken in the server's
// time zone.
func (d *decoder) time(rel keyPath, raw any, v reflect.Value) {
	switch t := raw.(type) {
	case time.Time:
		v.Set(reflect.ValueOf(t))
	case interface {
		AsTime(*time.Location) time.Time
	}:
		v.Set(reflect.ValueOf(t.AsTime(time.Local)))
	default:
		d.mismatch(rel, "a date and time like 2024-05-27T07:32:00Z", raw)
	}
}

// wholeNumber accepts TOML integers and floats without a fractional part.
func wholeNumber(raw any) (int64, bool) {
	switch n := raw.(type) {
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && n >= math.MinInt64 && n < math.MaxInt64 {
			return int64(n), true
		}
	}
	return 0, false
}

// field is one settable struct field and the key that names it.
type field struct {
	name   string
	tagged bool
	index  []int
}

// structFields lists the fields of t in declaration order, flattening
// embedded structs that carry no tag, as encoding/json does.
func structFields(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("toml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if sf.Anonymous && name == "" && sf.Type.Kind() == reflect.Struct {
			for _, f := range structFields(sf.Type) {
				f.index = append([]int{i}, f.index...)
				out = append(out, f)
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		out = append(out, field{name: name, tagged: hasTag && name != sf.Name, index: []int{i}})
	}
	return out
}

// findField matches a key exactly; untagged fields also match ignoring case.
func findField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if f.name == key {
			return f, true
		}
	}
	for _, f := range fields {
		if !f.tagged && strings.EqualFold(f.name, key) {
			return f, true
		}
	}
	return field{}, false
}

// fieldByIndex is reflect.Value.FieldByIndex for non-pointer embedding.
func fieldByIndex(v reflect.Value, index []int) reflect.Value {
	for _, i := range index {
		v = v.Field(i)
	}
	return v
}

// sortedKeys returns the keys of m in a stable order.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// deepCopy copies the maps and lists of a decoded TOML value so that callers
// cannot change the Config through what they are given.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}
