package sdk

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Hand-written JSON for the few fixed types every delivery crosses the ABI
// with (SendRequest in, SendResult out, HTTPRequest out, the HTTP response
// head in). encoding/json's reflection is slow in a wasm guest (~40 µs to
// decode one SendRequest); these take a few µs. They are strict: anything
// they do not expect (an unknown key, a float, a surrogate escape, nesting)
// makes the decoders report false, and the caller falls back to
// encoding/json, so behaviour never differs, only speed.

// decodeSendRequest decodes in into r; false means "use encoding/json".
func decodeSendRequest(in []byte, r *SendRequest) bool {
	d := jdec{b: in}
	ok := d.object(func(key string) bool {
		switch key {
		case "url":
			return d.str(&r.URL)
		case "title":
			return d.str(&r.Title)
		case "body":
			return d.str(&r.Body)
		case "body_format":
			return d.str(&r.BodyFormat)
		case "notify_type":
			return d.str(&r.NotifyType)
		case "notifier":
			return d.str(&r.Notifier)
		case "event":
			return d.str(&r.Event)
		case "now":
			return d.int64(&r.Now)
		case "deadline_ms":
			return d.int64(&r.DeadlineMS)
		case "attachments":
			return d.array(func() bool {
				var a AttachmentInfo
				var id int64
				ok := d.object(func(key string) bool {
					switch key {
					case "id":
						return d.int64(&id) && id >= 0 && id <= 1<<32-1
					case "name":
						return d.str(&a.Name)
					case "mime":
						return d.str(&a.MIME)
					case "size":
						return d.int64(&a.Size)
					}
					return false
				})
				a.ID = uint32(id)
				r.Attachments = append(r.Attachments, a)
				return ok
			})
		}
		return false
	})
	return ok && d.end()
}

// decodeHTTPResponseHead decodes the host's response head into r; false
// means "use encoding/json".
func decodeHTTPResponseHead(in []byte, r *HTTPResponse) bool {
	d := jdec{b: in}
	ok := d.object(func(key string) bool {
		switch key {
		case "status":
			var s int64
			if !d.int64(&s) || s < 0 || s > 1<<31-1 {
				return false
			}
			r.Status = int(s)
			return true
		case "headers":
			if r.Headers == nil {
				r.Headers = map[string]string{}
			}
			return d.object(func(name string) bool {
				var v string
				if !d.str(&v) {
					return false
				}
				r.Headers[name] = v
				return true
			})
		}
		return false
	})
	return ok && d.end()
}

// appendSendResult encodes r as encoding/json would (same keys, same
// omissions).
func appendSendResult(b []byte, r SendResult) []byte {
	b = append(b, `{"ok":`...)
	b = strconv.AppendBool(b, r.OK)
	b = append(b, `,"status":`...)
	b = appendJSONString(b, r.Status)
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	if r.RetryAfterS != 0 {
		b = append(b, `,"retry_after_s":`...)
		b = strconv.AppendInt(b, int64(r.RetryAfterS), 10)
	}
	if r.Permanent {
		b = append(b, `,"permanent":true`...)
	}
	if r.Info != "" {
		b = append(b, `,"info":`...)
		b = appendJSONString(b, r.Info)
	}
	return append(b, '}')
}

// marshalHTTPRequest encodes an HTTPRequest head; multipart and attachment
// bodies, which are rare, go through encoding/json.
func marshalHTTPRequest(r HTTPRequest) ([]byte, error) {
	if len(r.Multipart) > 0 || r.BodyAttachment != nil {
		return json.Marshal(r)
	}
	b := make([]byte, 0, 64+len(r.URL)+32*len(r.Headers))
	b = append(b, `{"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"url":`...)
	b = appendJSONString(b, r.URL)
	if len(r.Headers) > 0 {
		b = append(b, `,"headers":[`...)
		for i, h := range r.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '[')
			b = appendJSONString(b, h[0])
			b = append(b, ',')
			b = appendJSONString(b, h[1])
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	if r.TimeoutMS != 0 {
		b = append(b, `,"timeout_ms":`...)
		b = strconv.AppendInt(b, int64(r.TimeoutMS), 10)
	}
	return append(b, '}'), nil
}

// appendJSONString appends s as a JSON string the way encoding/json does:
// <, >, & and U+2028/U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jdec is a strict, allocation-light JSON reader for the decoders above.
type jdec struct {
	b   []byte
	pos int
}

func (d *jdec) ws() {
	for d.pos < len(d.b) {
		switch d.b[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *jdec) peek() byte {
	d.ws()
	if d.pos >= len(d.b) {
		return 0
	}
	return d.b[d.pos]
}

// end reports whether only white space is left.
func (d *jdec) end() bool {
	d.ws()
	return d.pos == len(d.b)
}

// object reads {"key": value, ...}, calling field for each key with the
// reader positioned at the value; null is an empty object.
func (d *jdec) object(field func(key string) bool) bool {
	if d.null() {
		return true
	}
	if d.peek() != '{' {
		return false
	}
	d.pos++
	if d.peek() == '}' {
		d.pos++
		return true
	}
	for {
		var key string
		if !d.str(&key) || d.peek() != ':' {
			return false
		}
		d.pos++
		if !field(key) {
			return false
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return true
		default:
			return false
		}
	}
}

// array reads [v, ...], calling elem for each value; null is empty.
func (d *jdec) array(elem func() bool) bool {
	if d.null() {
		return true
	}
	if d.peek() != '[' {
		return false
	}
	d.pos++
	if d.peek() == ']' {
		d.pos++
		return true
	}
	for {
		if !elem() {
			return false
		}
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return true
		default:
			return false
		}
	}
}

// null consumes a null literal.
func (d *jdec) null() bool {
	if d.peek() == 'n' && len(d.b)-d.pos >= 4 && string(d.b[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// int64 reads an integer (no fraction, no exponent); null leaves v alone.
func (d *jdec) int64(v *int64) bool {
	if d.null() {
		return true
	}
	d.ws()
	start := d.pos
	if d.pos < len(d.b) && d.b[d.pos] == '-' {
		d.pos++
	}
	for d.pos < len(d.b) && d.b[d.pos] >= '0' && d.b[d.pos] <= '9' {
		d.pos++
	}
	if d.pos < len(d.b) {
		switch d.b[d.pos] {
		case '.', 'e', 'E':
			return false
		}
	}
	n, err := strconv.ParseInt(string(d.b[start:d.pos]), 10, 64)
	if err != nil {
		return false
	}
	*v = n
	return true
}

// str reads a string; null leaves v alone. Escapes other than the simple
// ones and BMP \u outside the surrogate range make it fail.
func (d *jdec) str(v *string) bool {
	if d.null() {
		return true
	}
	if d.peek() != '"' {
		return false
	}
	d.pos++
	start := d.pos
	// Fast path: no escapes, valid UTF-8.
	for d.pos < len(d.b) {
		c := d.b[d.pos]
		if c == '"' {
			s := d.b[start:d.pos]
			if !utf8.Valid(s) {
				return false
			}
			*v = string(s)
			d.pos++
			return true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return false
		}
		d.pos++
	}
	out := append([]byte(nil), d.b[start:d.pos]...)
	for d.pos < len(d.b) {
		c := d.b[d.pos]
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return false
			}
			*v = string(out)
			d.pos++
			return true
		case c < 0x20:
			return false
		case c != '\\':
			out = append(out, c)
			d.pos++
			continue
		}
		if d.pos+1 >= len(d.b) {
			return false
		}
		e := d.b[d.pos+1]
		d.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if d.pos+4 > len(d.b) {
				return false
			}
			n, err := strconv.ParseUint(string(d.b[d.pos:d.pos+4]), 16, 16)
			if err != nil || (n >= 0xD800 && n <= 0xDFFF) {
				return false
			}
			out = utf8.AppendRune(out, rune(n))
			d.pos += 4
		default:
			return false
		}
	}
	return false
}
