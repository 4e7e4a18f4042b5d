package main

// Helpers that reproduce what Python's json module puts on the wire for
// Apprise, so the request bodies match byte for byte.

import (
	"errors"
	"strconv"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// object is a JSON object that keeps its keys in insertion order, like a
// Python dict: set replaces a value in place, del removes a key.
type object struct{ keys []kv }

type kv struct {
	k string
	v any
}

// rawNum is a number already written as JSON (an int, or a Python float repr).
type rawNum string

func obj(pairs ...any) *object {
	o := &object{}
	for i := 0; i+1 < len(pairs); i += 2 {
		o.set(pairs[i].(string), pairs[i+1])
	}
	return o
}

func (o *object) set(k string, v any) {
	for i := range o.keys {
		if o.keys[i].k == k {
			o.keys[i].v = v
			return
		}
	}
	o.keys = append(o.keys, kv{k, v})
}

func (o *object) del(k string) {
	for i := range o.keys {
		if o.keys[i].k == k {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			return
		}
	}
}

func (o *object) get(k string) (any, bool) {
	for _, e := range o.keys {
		if e.k == k {
			return e.v, true
		}
	}
	return nil, false
}

func (o *object) copy() *object {
	return &object{keys: append([]kv(nil), o.keys...)}
}

// pyDumps encodes v as Python's json.dumps does by default: ", " and ": "
// separators, keys in order, non-ASCII escaped as lower-case \uXXXX.
func pyDumps(v any) []byte {
	var b strings.Builder
	pyEncode(&b, v)
	return []byte(b.String())
}

func pyEncode(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int:
		b.WriteString(strconv.Itoa(v))
	case rawNum:
		b.WriteString(string(v))
	case string:
		pyString(b, v)
	case *object:
		b.WriteByte('{')
		for i, e := range v.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			pyString(b, e.k)
			b.WriteString(": ")
			pyEncode(b, e.v)
		}
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			pyEncode(b, e)
		}
		b.WriteByte(']')
	default:
		panic("pyDumps: unsupported type")
	}
}

func pyString(b *strings.Builder, s string) {
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

// parseBool is Apprise's parse_bool for a query value: only the first two
// letters count ("no", "never", "false", "0" … and "yes", "true", "on", "1" …).
func parseBool(v string, def bool) bool {
	p := strings.ToLower(v)
	if len(p) > 2 {
		p = p[:2]
	}
	switch p {
	case "de", "di", "ne", "f", "n", "no", "of", "0", "fa":
		return false
	case "en", "al", "t", "y", "ye", "on", "1", "tr":
		return true
	}
	return def
}

// optBool reads a boolean option the way Apprise does (absent: def).
func optBool(u *sdk.URL, name string, def bool) bool {
	v, ok := u.Options[name]
	if !ok {
		return def
	}
	return parseBool(v, def)
}

// hostFailure maps a host error from sdk.HTTP to a result: timeouts and
// network failures are retried, a refused request is permanent.
func hostFailure(service string, err error) sdk.SendResult {
	msg := service + ": " + err.Error()
	if he, ok := err.(*sdk.HostError); ok {
		switch he.Code {
		case sdk.CodeTimeout, sdk.CodeNetwork:
			return sdk.Retry(0, msg)
		case sdk.CodePolicyDenied, sdk.CodeBadRequest, sdk.CodeNoCapability:
			return sdk.FailPermanent(msg)
		}
	}
	return sdk.Fail(msg)
}

// parseURL parses a notification URL the way Apprise reads it: "/#" starts
// a path segment (a channel), not a fragment; in the query '#' is text and
// ';' separates options like '&'; option values are trimmed.
func parseURL(raw string) (*sdk.URL, error) {
	raw = strings.ReplaceAll(raw, "/#", "/%23")
	if base, query, ok := strings.Cut(raw, "?"); ok {
		query = strings.NewReplacer("#", "%23", ";", "&").Replace(query)
		raw = base + "?" + query
	}
	u, err := sdk.ParseURL(raw)
	if err != nil {
		// Drop the quoted URL from the message: it holds the tokens.
		msg := err.Error()
		if strings.HasPrefix(msg, `url "`) {
			if i := strings.Index(msg, `": `); i > 0 {
				msg = msg[i+3:]
			}
		}
		return nil, errors.New(msg)
	}
	for k, v := range u.Options {
		u.Options[k] = strings.TrimSpace(v)
	}
	return u, nil
}
