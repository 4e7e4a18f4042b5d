package main

// Helpers that reproduce how Apprise 1.9.8 (Python) parses URL options and
// writes requests, so the bytes on the wire match it.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// field is one member of a JSON object; obj keeps the members in order, as
// a Python dict does.
type field struct {
	key string
	val any // string, int or obj
}

type obj []field

// pyJSON encodes v as Python's json.dumps does by default: ", " and ": "
// separators, and every character outside printable ASCII escaped.
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

// opt returns a plain URL option with surrounding blanks removed, as
// Apprise stores them.
func opt(u *sdk.URL, name string) string { return strings.TrimSpace(u.Options[name]) }

var listDelims = regexp.MustCompile(`[\[\];,\s]+`)

// parseList splits values on Apprise's list delimiters (blanks, commas,
// semicolons, brackets) and returns the unique entries sorted, as
// Apprise's parse_list does.
func parseList(values ...string) []string {
	var out []string
	for _, v := range values {
		for _, s := range listDelims.Split(v, -1) {
			if s != "" && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// parseBool reads a yes/no option as Apprise's parse_bool does: only the
// first two letters count, and anything unknown is def.
func parseBool(s string, def bool) bool {
	p := strings.ToLower(s)
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

var (
	hostLabel = regexp.MustCompile(`(?i)^([a-z0-9][a-z0-9_-]{1,62}|[a-z])$`)
	ipv4      = regexp.MustCompile(`^[0-9.]+$`)
)

// isHostname reports whether h is a host name or IP address Apprise
// accepts.
func isHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	h = strings.TrimSuffix(h, ".")
	if strings.Contains(h, ":") { // IPv6 literal, brackets already removed
		return true
	}
	labels := strings.Split(h, ".")
	if len(labels) == 4 && ipv4.MatchString(h) {
		for _, l := range labels {
			if n, err := strconv.Atoi(l); err != nil || n > 255 {
				return false
			}
		}
		return true
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) || l[len(l)-1] == '-' || l[len(l)-1] == '_' {
			return false
		}
	}
	return true
}

// rawPassword reports whether the URL's user part holds a ':' (a password,
// possibly empty): Apprise tells "user@" (no password) from "user:@".
func rawPassword(raw string) bool {
	_, rest, _ := strings.Cut(raw, "://")
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndexByte(rest, '@')
	return at >= 0 && strings.Contains(rest[:at], ":")
}

// basicAuth is the Authorization header requests writes for auth=(user,
// password); a missing password is written as "None", as requests does.
func basicAuth(user, password string, hasPassword bool) string {
	if !hasPassword {
		password = "None"
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// hostFailure maps an error from sdk.HTTP to a result: timeouts and network
// failures are retried, anything the host refused is not.
func hostFailure(what string, err error) sdk.SendResult {
	var he *sdk.HostError
	if errors.As(err, &he) {
		switch he.Code {
		case sdk.CodeTimeout, sdk.CodeNetwork:
			return sdk.Retry(0, what+": "+he.Message)
		case sdk.CodePolicyDenied, sdk.CodeBadRequest:
			return sdk.FailPermanent(what + ": " + he.Message)
		}
	}
	return sdk.Fail(what + ": " + err.Error())
}

// outcome maps a service answer to a result. Apprise counts only 200 as
// sent; another 2xx is reported as a failure that a retry would not fix.
func outcome(resp *sdk.HTTPResponse, msg string) sdk.SendResult {
	if resp.Status == 200 {
		return sdk.Sent()
	}
	if resp.Status > 200 && resp.Status < 300 {
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

// snippet shortens a response body for an error message.
func snippet(b []byte) string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
