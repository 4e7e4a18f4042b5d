package apprise

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// ParseURL parses a notification URL the way Apprise reads it: "/#" starts
// a path segment (a channel), not a fragment; in the query '#' is text and
// ';' separates options like '&'; option values are trimmed. The error
// never quotes the URL, which holds the secrets.
func ParseURL(raw string) (*sdk.URL, error) {
	raw = strings.ReplaceAll(raw, "/#", "/%23")
	if base, query, ok := strings.Cut(raw, "?"); ok {
		query = strings.NewReplacer("#", "%23", ";", "&").Replace(query)
		raw = base + "?" + query
	}
	u, err := sdk.ParseURL(raw)
	if err != nil {
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

// Opt returns a URL option with surrounding blanks removed, as Apprise
// stores them; "" when absent.
func Opt(u *sdk.URL, name string) string { return strings.TrimSpace(u.Options[name]) }

// OptBool reads a yes/no option with [ParseBool]; def when absent.
func OptBool(u *sdk.URL, name string, def bool) bool {
	v, ok := u.Options[name]
	if !ok {
		return def
	}
	return ParseBool(v, def)
}

// Format reads ?format=: text, markdown or html, "" when absent, an error
// for anything else.
func Format(u *sdk.URL) (string, error) {
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

// ParseBool is Apprise's parse_bool() for an option value: only the first
// two letters count ("no", "never", "false", "0", "off", "disable" … and
// "yes", "true", "on", "1", "enable", "always" …); anything else is def.
func ParseBool(s string, def bool) bool {
	p := strings.ToLower(s)
	if r := []rune(p); len(r) > 2 {
		p = string(r[:2])
	}
	switch p {
	case "de", "di", "ne", "f", "n", "no", "of", "0", "fa":
		return false
	case "en", "al", "t", "y", "ye", "on", "1", "tr":
		return true
	}
	return def
}

// IsListDelim reports whether r is one of Apprise's STRING_DELIMITERS,
// r"[\[\]\;,\s]+".
func IsListDelim(r rune) bool {
	return r == '[' || r == ']' || r == ';' || r == ',' || unicode.IsSpace(r)
}

// ParseList is Apprise's parse_list(): every value split at brackets,
// semicolons, commas and blanks, without empties or duplicates, sorted.
func ParseList(values ...string) []string {
	var out []string
	for _, v := range values {
		for _, s := range strings.FieldsFunc(v, IsListDelim) {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out
}

// IsPySpace is Python's str.isspace for one character.
func IsPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

var hostLabel = regexp.MustCompile(`(?i)^([a-z0-9][a-z0-9_-]{1,62}|[a-z])$`)

// IsHostname is Apprise's is_hostname: RFC 1123 labels (underscores
// allowed, not at the end), an IPv4 address or an IPv6 literal without
// brackets.
func IsHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if strings.Contains(h, ":") {
		for _, c := range h {
			if !(c == ':' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	h = strings.TrimSuffix(h, ".")
	labels := strings.Split(h, ".")
	if len(labels) == 4 && strings.Trim(h, "0123456789.") == "" {
		for _, l := range labels {
			if n, err := strconv.Atoi(l); err != nil || n > 255 || len(l) > 3 {
				return false
			}
		}
		return true
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) || strings.HasSuffix(l, "-") || strings.HasSuffix(l, "_") {
			return false
		}
	}
	return true
}

// HasPassword reports whether the user part of raw (a URL, or what follows
// its "://") holds a ':' — a password, possibly empty: Apprise tells
// "user@" (no password) from "user:@".
func HasPassword(raw string) bool {
	if _, rest, ok := strings.Cut(raw, "://"); ok {
		raw = rest
	}
	if end := strings.IndexAny(raw, "/?#"); end >= 0 {
		raw = raw[:end]
	}
	at := strings.LastIndexByte(raw, '@')
	return at >= 0 && strings.Contains(raw[:at], ":")
}

// Quote percent-encodes s as Python's urllib.parse.quote(s, safe): ASCII
// letters, digits, "_.-~" and the safe characters stay, every other UTF-8
// byte becomes %XX.
func Quote(s, safe string) string {
	return quote(s, "_.-~"+safe)
}

// Requote percent-encodes what requests' requote_uri would: every byte
// outside the unreserved and reserved URI characters (and '%').
func Requote(s string) string {
	return quote(s, "-._~!#$%&'()*+,/:;=?@[]")
}

func quote(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte(keep, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// QuotePlus is Python's quote_plus: [Quote] with no safe characters, and
// blanks as '+'.
func QuotePlus(s string) string { return strings.ReplaceAll(Quote(s, " "), " ", "+") }

// URLEncode is Python's urlencode over string pairs, in order (what
// requests sends for params= and data=dict): quote_plus on keys and values.
func URLEncode(pairs [][2]string) string {
	parts := make([]string, 0, len(pairs))
	for _, p := range pairs {
		parts = append(parts, QuotePlus(p[0])+"="+QuotePlus(p[1]))
	}
	return strings.Join(parts, "&")
}

// WithQuery appends [URLEncode]d pairs to a URL; the URL as it is when
// there are none.
func WithQuery(url string, pairs [][2]string) string {
	if len(pairs) == 0 {
		return url
	}
	return url + "?" + URLEncode(pairs)
}

// Unquote decodes %XX escapes as Python's unquote does: malformed escapes
// stay as they are, invalid UTF-8 becomes U+FFFD.
func Unquote(s string) string {
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

// Credentials returns the basic-auth user and password as Apprise builds
// them from the URL raw (parsed as u): ?user=, ?pass= and ?password=
// override the URL's, a password-less user@ becomes the password when
// ?user= names the user, and a user without a password gets the password
// "None" (Python's str(None)), as requests then sends. auth is false when
// there is no user.
func Credentials(raw string, u *sdk.URL) (user, password string, auth bool) {
	hasPass := HasPassword(raw)
	user, password = u.User, u.Password
	if v, ok := u.Options["password"]; ok {
		password, hasPass = strings.TrimSpace(v), true
	}
	if v, ok := u.Options["pass"]; ok {
		password, hasPass = strings.TrimSpace(v), true
	}
	if v, ok := u.Options["user"]; ok {
		user = strings.TrimSpace(v)
		if !hasPass && u.User != "" {
			password, hasPass = u.User, true
		}
	}
	if user == "" {
		return "", "", false
	}
	return user, OrNone(password, hasPass), true
}

// RedactedUser is the user part of a redacted URL: "user:****@" with a
// password, "user@" without, "" without a user.
func RedactedUser(user string, hasPassword bool) string {
	switch {
	case user != "" && hasPassword:
		return user + ":****@"
	case user != "":
		return user + "@"
	}
	return ""
}
