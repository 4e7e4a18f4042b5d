package apprise

import (
	"fmt"
	"strconv"
	"strings"
)

// Member is one key of an [Object] and its value.
type Member struct {
	Key   string // the JSON key
	Value any    // anything Dumps accepts
}

// Object is a JSON object that keeps its keys in insertion order, as a
// Python dict does. Its values are anything [Dumps] accepts.
type Object []Member

// Obj builds an Object from alternating keys and values, in order; a
// repeated key replaces the earlier value in place, as in a dict literal.
func Obj(pairs ...any) *Object {
	o := &Object{}
	for i := 0; i+1 < len(pairs); i += 2 {
		o.Set(pairs[i].(string), pairs[i+1])
	}
	return o
}

// Index returns the position of key, or -1.
func (o Object) Index(key string) int {
	for i := range o {
		if o[i].Key == key {
			return i
		}
	}
	return -1
}

// Get returns the value of key and whether it is present.
func (o Object) Get(key string) (any, bool) {
	if i := o.Index(key); i >= 0 {
		return o[i].Value, true
	}
	return nil, false
}

// Set replaces the value of key in place, or appends key when it is new.
func (o *Object) Set(key string, val any) {
	if i := o.Index(key); i >= 0 {
		(*o)[i].Value = val
		return
	}
	*o = append(*o, Member{key, val})
}

// Del removes key, if present, keeping the order of the others.
func (o *Object) Del(key string) {
	if i := o.Index(key); i >= 0 {
		*o = append((*o)[:i:i], (*o)[i+1:]...)
	}
}

// Copy returns a shallow copy, as Python's dict.copy().
func (o *Object) Copy() *Object {
	c := append(Object(nil), *o...)
	return &c
}

// Strings returns the members as key/value pairs; values that are not
// strings are written with [PyStr].
func (o Object) Strings() [][2]string {
	out := make([][2]string, 0, len(o))
	for _, m := range o {
		out = append(out, [2]string{m.Key, PyStr(m.Value)})
	}
	return out
}

// RawNumber is a number already written as JSON, e.g. a Python float repr
// or an id too large for int. [Dumps] writes it as it is.
type RawNumber string

// Dumps encodes v as Python's json.dumps(v) does by default: ", " and ": "
// separators, object keys in insertion order, every character outside
// printable ASCII escaped as lower-case \uXXXX (surrogate pairs beyond the
// BMP) and invalid UTF-8 read as U+FFFD. v is built of nil, bool, int,
// int64, float64, RawNumber, string, []string, []any, Object and *Object;
// anything else panics.
func Dumps(v any) []byte {
	var b strings.Builder
	writeJSON(&b, v)
	return []byte(b.String())
}

func writeJSON(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		s := strconv.FormatFloat(v, 'f', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		b.WriteString(s)
	case RawNumber:
		b.WriteString(string(v))
	case string:
		writeJSONString(b, v)
	case []string:
		b.WriteByte('[')
		for i, s := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, s)
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSON(b, e)
		}
		b.WriteByte(']')
	case *Object:
		writeJSON(b, *v)
	case Object:
		b.WriteByte('{')
		for i, m := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, m.Key)
			b.WriteString(": ")
			writeJSON(b, m.Value)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("apprise.Dumps: unsupported %T", v))
	}
}

// writeJSONString writes s as a JSON string with Python's ensure_ascii.
func writeJSONString(b *strings.Builder, s string) {
	const hexdigits = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		for shift := 12; shift >= 0; shift -= 4 {
			b.WriteByte(hexdigits[(r>>shift)&0xf])
		}
	}
	b.WriteByte('"')
	for _, r := range s { // invalid UTF-8 reads as U+FFFD
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u4(0xd800 | (r>>10)&0x3ff)
			u4(0xdc00 | r&0x3ff)
		default:
			u4(r)
		}
	}
	b.WriteByte('"')
}

// PyStr is Python's str() of a form value: "True"/"False" for booleans,
// numbers as written, "" for anything else.
func PyStr(v any) string {
	switch v := v.(type) {
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int:
		return strconv.Itoa(v)
	case RawNumber:
		return string(v)
	case string:
		return v
	}
	return ""
}
