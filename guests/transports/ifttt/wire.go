package main

// Helpers that reproduce what Apprise 1.9.8 (Python json, requests and
// urllib3) puts on the wire, so requests match it byte for byte.

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// field is one member of a JSON object; obj keeps members in order, as a
// Python dict does.
type field struct {
	key string
	val any // string, int, bool, []string, []any, obj
}

type obj []field

// pyJSON encodes v as Python's json.dumps does by default: ", " and ": "
// separators, keys in order, every character outside printable ASCII
// escaped as \uXXXX.
func pyJSON(v any) []byte {
	var b strings.Builder
	writeJSON(&b, v)
	return []byte(b.String())
}

func writeJSON(b *strings.Builder, v any) {
	switch v := v.(type) {
	case string:
		writeJSONString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case bool:
		b.WriteString(strconv.FormatBool(v))
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
	case obj:
		b.WriteByte('{')
		for i, f := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			writeJSONString(b, f.key)
			b.WriteString(": ")
			writeJSON(b, f.val)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("pyJSON: unsupported %T", v))
	}
}

func writeJSONString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, r := range s {
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
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

// pyUnquote decodes %XX escapes leniently, as Python's unquote does:
// malformed escapes stay as they are.
func pyUnquote(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
				b = append(b, byte(v))
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// requote percent-encodes what requests' requote_uri would: every byte
// outside the unreserved and reserved URI characters (and '%').
func requote(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-._~!#$%&'()*+,/:;=?@[]", c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// isListDelim matches one character of Apprise's STRING_DELIMITERS,
// r"[\[\]\;,\s]+".
func isListDelim(r rune) bool {
	return r == '[' || r == ']' || r == ';' || r == ',' || unicode.IsSpace(r)
}

// parseList is Apprise's parse_list(): every entry split at brackets,
// semicolons, commas and blanks, without empties or duplicates, sorted.
func parseList(items ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		for _, s := range strings.FieldsFunc(it, isListDelim) {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	sort.Strings(out)
	return out
}

// opt returns a plain URL option with surrounding blanks removed, as
// Apprise stores them.
func opt(u *sdk.URL, name string) string { return strings.TrimSpace(u.Options[name]) }

// format reads ?format=; "" when absent.
func format(u *sdk.URL) (string, error) {
	f, ok := u.Options["format"]
	if !ok {
		return "", nil
	}
	switch f = strings.ToLower(strings.TrimSpace(f)); f {
	case "text", "markdown", "html":
		return f, nil
	}
	return "", fmt.Errorf("format=%s is not one of text, markdown, html", f)
}

// hostFailure maps an error from sdk.HTTP to a result: timeouts and network
// failures are retried, anything the host refused is not.
func hostFailure(what string, err error) sdk.SendResult {
	var he *sdk.HostError
	if errors.As(err, &he) {
		switch he.Code {
		case sdk.CodeTimeout, sdk.CodeNetwork:
			return sdk.Retry(0, what+": "+he.Message)
		case sdk.CodePolicyDenied, sdk.CodeBadRequest, sdk.CodeNoCapability:
			return sdk.FailPermanent(what + ": " + he.Message)
		}
	}
	return sdk.Fail(what + ": " + err.Error())
}

// outcome maps a service answer to a result: the statuses in ok count as
// sent, another 2xx is a failure a retry would not fix, and anything else
// follows sdk.ResultForStatus.
func outcome(resp *sdk.HTTPResponse, msg string, ok ...int) sdk.SendResult {
	for _, s := range ok {
		if resp.Status == s {
			return sdk.Sent()
		}
	}
	if resp.Status >= 200 && resp.Status < 300 {
		return sdk.FailPermanent(msg)
	}
	return sdk.ResultForStatus(resp.Status, retryAfter(resp), msg)
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(resp *sdk.HTTPResponse) time.Duration {
	v := strings.TrimSpace(resp.Headers["retry-after"])
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		if d := t.Sub(sdk.Now()); d > 0 {
			return d
		}
	}
	return 0
}

// httpText is "HTTP 400: detail", or the response body's start when the
// service gave no detail.
func httpText(resp *sdk.HTTPResponse, detail string) string {
	if detail == "" {
		detail = snippet(resp.Body)
	}
	if detail == "" {
		return fmt.Sprintf("HTTP %d", resp.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", resp.Status, detail)
}

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
