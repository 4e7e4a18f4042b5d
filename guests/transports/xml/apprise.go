package main

// Apprise 1.9.8's generic webhooks (json://, form://, xml://) share this
// file byte for byte: guests may import only the SDK, so each of the three
// directories keeps a copy, and the form and xml tests check that their copy
// still equals this one. It reproduces how Apprise parses a webhook URL
// (utils/parse.py parse_url and parse_qsd, then the plugin's own parse_url)
// and what python-requests puts on the wire for it.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// methods are the HTTP methods Apprise 1.9.8 accepts in ?method=.
var methods = []string{"POST", "GET", "DELETE", "PUT", "HEAD", "PATCH"}

// kv is one entry of an ordered map.
type kv struct {
	key string
	val any
}

// ordered is a map that keeps insertion order with Python dict semantics:
// setting an existing key replaces its value in place.
type ordered []kv

func (o ordered) index(key string) int {
	return slices.IndexFunc(o, func(e kv) bool { return e.key == key })
}

func (o *ordered) set(key string, val any) {
	if i := o.index(key); i >= 0 {
		(*o)[i].val = val
		return
	}
	*o = append(*o, kv{key, val})
}

func (o *ordered) del(key string) {
	if i := o.index(key); i >= 0 {
		*o = slices.Delete(*o, i, i+1)
	}
}

// webhook is a parsed json://, form:// or xml:// URL.
type webhook struct {
	scheme string // as written, lower case: json, jsons, form, …
	secure bool
	host   string // without IPv6 brackets
	port   int    // 0: none given
	// auth is set when the URL names a user; password "None" is what
	// requests sends when Apprise has a user but no password.
	auth           bool
	user, password string
	path           string // percent-encoded, as requests sends it
	method         string
	headers        ordered // +Name=value
	params         ordered // -name=value
	payload        ordered // :key=value
	qsd            map[string]string
	format         string // text, markdown or html when ?format= is valid
}

// parseWebhook parses raw as Apprise 1.9.8 does for its custom webhooks.
// plain is the scheme without the trailing "s" (json, form, xml).
func parseWebhook(raw, plain string) (*webhook, error) {
	usage := fmt.Sprintf("%s://[user[:password]@]host[:port][/path] (%ss:// for https)", plain, plain)
	raw = strings.TrimFunc(raw, isPySpace)
	schemeEnd := strings.Index(raw, "://")
	if schemeEnd < 0 {
		return nil, fmt.Errorf("%s: not a URL; use %s", plain, usage)
	}
	scheme := strings.ToLower(raw[:schemeEnd])
	if scheme != plain && scheme != plain+"s" {
		return nil, fmt.Errorf("%s: scheme %q is not %s:// or %ss://", plain, scheme, plain, plain)
	}
	rest := strings.TrimLeft(raw[schemeEnd+1:], "/\\")
	location, query, _ := strings.Cut(rest, "?")
	query = strings.TrimFunc(query, isPySpace)

	u, err := sdk.ParseURL(scheme + "://" + location)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", plain, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: the URL names no host; use %s", plain, usage)
	}
	if !isHostname(u.Host) {
		return nil, fmt.Errorf("%s: %q is not a valid host name or address; use %s", plain, u.Host, usage)
	}
	w := &webhook{scheme: scheme, secure: scheme == plain+"s", host: u.Host, port: u.Port, method: "POST"}
	w.qsd, w.headers, w.params, w.payload = parseQuery(query)

	// User and password, with Apprise's ?user=, ?pass= and ?password=
	// overrides; a password-less user@ becomes the password when ?user=
	// names the user.
	user, password, hasPassword := u.User, u.Password, hasRawPassword(location)
	// Values from the query are decoded a second time, as Apprise does.
	if v, ok := w.qsd["password"]; ok {
		password, hasPassword = pyUnquote(v), true
	}
	if v, ok := w.qsd["pass"]; ok {
		password, hasPassword = pyUnquote(v), true
	}
	if v, ok := w.qsd["user"]; ok {
		if !hasPassword && user != "" {
			password, hasPassword = user, true
		}
		user = pyUnquote(v)
	}
	if user != "" {
		w.auth, w.user, w.password = true, user, password
		if !hasPassword {
			w.password = "None"
		}
	}
	if v, ok := w.qsd["port"]; ok && v != "" {
		// Apprise drops a port that is not a number, with a warning.
		p, err := strconv.Atoi(v)
		if err == nil && (p < 1 || p > 65535) {
			return nil, fmt.Errorf("%s: port=%s is not a port number (1-65535)", plain, v)
		}
		w.port = max(p, 0)
	}
	if v := w.qsd["method"]; v != "" {
		w.method = strings.ToUpper(pyUnquote(v))
		if !slices.Contains(methods, w.method) {
			return nil, fmt.Errorf("%s: method=%s is not one of %s", plain, v, strings.Join(methods, ", "))
		}
	}
	if f := strings.ToLower(w.qsd["format"]); f == "text" || f == "markdown" || f == "html" {
		w.format = f
	}

	path, _, _ := strings.Cut(location, "#")
	if i := strings.IndexByte(path, '/'); i >= 0 {
		path = path[i:]
	} else {
		path = ""
	}
	w.path = wirePath(path, rest[max(len(rest)-1, 0):])
	return w, nil
}

// parseQuery splits the query as Apprise's parse_qsd does, then decodes the
// prefixed families a second time as the webhook plugins do.
func parseQuery(query string) (qsd map[string]string, headers, params, payload ordered) {
	qsd = map[string]string{}
	if query == "" {
		return qsd, nil, nil, nil
	}
	for _, amp := range strings.Split(query, "&") {
		for _, pair := range strings.Split(amp, ";") {
			k, v, _ := strings.Cut(pair, "=")
			if len(k) > 1 {
				k = k[:1] + strings.ReplaceAll(k[1:], "+", " ")
			}
			k = pyUnquote(k)
			v = strings.TrimFunc(pyUnquote(v), isPySpace)
			qsd[strings.ToLower(strings.TrimFunc(k, isPySpace))] = v
			if k == "" {
				continue
			}
			name := pyUnquote(k[1:])
			switch k[0] {
			case '+', ' ':
				headers.set(name, pyUnquote(v))
			case '-':
				params.set(name, pyUnquote(v))
			case ':':
				payload.set(name, pyUnquote(v))
			}
		}
	}
	return qsd, headers, params, payload
}

var (
	tidyWin     = regexp.MustCompile(`(^\\{2}|[^\\\s]\\|\s\\{2}\])(\\+)`)
	tidyNux     = regexp.MustCompile(`(/)(/+)`)
	tidyWinTrim = regexp.MustCompile(`^(.+[^:][^\\])[\s\\]*$`)
)

// wirePath turns the URL's path into the request path as Apprise and
// requests do: repeated slashes collapsed, trailing blanks and backslashes
// trimmed (a trailing slash comes back when the whole URL ends with one),
// percent-encoding normalised, dot segments removed; "/" when there is
// none.
func wirePath(path, urlEnd string) string {
	if strings.Contains(path, ";") { // urlparse() splits ;params off the last segment
		from := max(strings.LastIndexByte(path, '/'), 0)
		if i := strings.IndexByte(path[from:], ';'); i >= 0 {
			path = path[:from+i]
		}
	}
	path = strings.TrimFunc(path, isPySpace)
	path = tidyWin.ReplaceAllString(path, "$1")
	path = tidyNux.ReplaceAllString(path, "$1")
	path = tidyWinTrim.ReplaceAllString(path, "$1")
	path = pyQuote(pyUnquote(path), "/")
	if path != "" && !strings.HasSuffix(path, "/") && (urlEnd == "/" || urlEnd == "\\") {
		path += pyQuote(urlEnd, "/")
	}
	if path == "" {
		return "/"
	}
	return removeDotSegments(path)
}

// removeDotSegments is urllib3's normalisation of "." and ".." segments.
func removeDotSegments(path string) string {
	var out []string
	for _, s := range strings.Split(path, "/") {
		switch {
		case s == ".":
		case s != "..":
			out = append(out, s)
		case len(out) > 0:
			out = out[:len(out)-1]
		}
	}
	if strings.HasPrefix(path, "/") && (len(out) == 0 || out[0] != "") {
		out = append([]string{""}, out...)
	}
	if strings.HasSuffix(path, "/.") || strings.HasSuffix(path, "/..") {
		out = append(out, "")
	}
	return strings.Join(out, "/")
}

// url is the request URL without query: the port is left out when it is
// the scheme's default, as the Host header requests sends leaves it out.
func (w *webhook) url() string {
	scheme, def := "http", 80
	if w.secure {
		scheme, def = "https", 443
	}
	host := w.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if w.port != 0 && w.port != def {
		host += ":" + strconv.Itoa(w.port)
	}
	return scheme + "://" + host + w.path
}

// redacted is the URL without password, options or extra headers.
func (w *webhook) redacted() string {
	var b strings.Builder
	b.WriteString(w.scheme + "://")
	if w.auth {
		b.WriteString(pyQuote(w.user, ""))
		if w.password != "None" {
			b.WriteString(":****")
		}
		b.WriteByte('@')
	}
	host := w.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	b.WriteString(host)
	if w.port != 0 {
		b.WriteString(":" + strconv.Itoa(w.port))
	}
	b.WriteString(w.path)
	return b.String()
}

// validate is the shared part of Validate.
func (w *webhook) validate() sdk.ValidateResult {
	res := sdk.ValidateResult{OK: true, Hosts: []string{w.host}, RedactedURL: w.redacted()}
	if w.format != "" {
		res.Options = map[string]string{"format": w.format}
	}
	return res
}

// requestHeaders returns the plugin's own headers overridden by the URL's
// +Name=value headers, case-insensitively as requests merges them, plus
// requests' default Accept and the basic auth it adds.
func (w *webhook) requestHeaders(own ...[2]string) ([][2]string, error) {
	hs := append([][2]string{{"Accept", "*/*"}}, own...)
	for _, h := range w.headers {
		if h.key == "" {
			return nil, errors.New("an empty +header name in the URL")
		}
		i := slices.IndexFunc(hs, func(e [2]string) bool { return strings.EqualFold(e[0], h.key) })
		if i >= 0 {
			hs = slices.Delete(hs, i, i+1)
		}
		hs = append(hs, [2]string{h.key, h.val.(string)})
	}
	if w.auth { // requests' auth= replaces any Authorization header
		hs = slices.DeleteFunc(hs, func(e [2]string) bool { return strings.EqualFold(e[0], "Authorization") })
		hs = append(hs, [2]string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString(latin1(w.user+":"+w.password))})
	}
	return hs, nil
}

func hasHeader(hs [][2]string, name string) bool {
	return slices.ContainsFunc(hs, func(e [2]string) bool { return strings.EqualFold(e[0], name) })
}

// latin1 encodes s as requests encodes basic-auth credentials; characters
// beyond Latin-1 (which make requests fail) are sent as UTF-8.
func latin1(s string) []byte {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xff {
			return []byte(s)
		}
		b = append(b, byte(r))
	}
	return b
}

// withQuery appends urlencoded pairs to a URL.
func withQuery(url string, pairs ordered) string {
	if len(pairs) == 0 {
		return url
	}
	return url + "?" + urlencode(pairs)
}

// urlencode is Python's urlencode over string values (quote_plus on keys
// and values).
func urlencode(pairs ordered) string {
	parts := make([]string, 0, len(pairs))
	for _, p := range pairs {
		parts = append(parts, quotePlus(p.key)+"="+quotePlus(p.val.(string)))
	}
	return strings.Join(parts, "&")
}

func quotePlus(s string) string { return strings.ReplaceAll(pyQuote(s, " "), " ", "+") }

// pyQuote percent-encodes s as Python's urllib.parse.quote(s, safe): ASCII
// letters, digits, "_.-~" and safe stay, every other UTF-8 byte is %XX.
func pyQuote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// pyUnquote decodes %XX escapes as Python's unquote does: malformed
// escapes stay, invalid UTF-8 becomes U+FFFD.
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

// isPySpace is Python's str.isspace for one character.
func isPySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

var hostLabel = regexp.MustCompile(`(?i)^([a-z0-9][a-z0-9_-]{1,62}|[a-z])$`)

// isHostname is Apprise's is_hostname: RFC 1123 labels (underscores
// allowed, not at the end), an IPv4 address or an IPv6 literal.
func isHostname(h string) bool {
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

// hasRawPassword reports whether the user part holds a ':' (a password,
// possibly empty): Apprise tells "user@" from "user:@".
func hasRawPassword(location string) bool {
	if end := strings.IndexAny(location, "/#"); end >= 0 {
		location = location[:end]
	}
	at := strings.LastIndexByte(location, '@')
	return at >= 0 && strings.Contains(location[:at], ":")
}

// attachmentName is the file name Apprise gives an attachment: its own,
// else fileNNN.dat.
func attachmentName(a sdk.AttachmentInfo, no int) string {
	if a.Name != "" {
		return a.Name
	}
	return fmt.Sprintf("file%03d.dat", no)
}

func attachmentMIME(a sdk.AttachmentInfo) string {
	if a.MIME != "" {
		return a.MIME
	}
	return "application/octet-stream"
}

// do sends one request and maps the outcome: any 2xx is sent, as in
// Apprise; 429 and 5xx are retried honouring Retry-After; network failures
// are retried; what the host refused is not.
func do(plain string, req sdk.HTTPRequest) sdk.SendResult {
	resp, err := sdk.HTTP(req)
	if err != nil {
		var he *sdk.HostError
		if errors.As(err, &he) {
			switch he.Code {
			case sdk.CodeTimeout, sdk.CodeNetwork:
				return sdk.Retry(0, plain+": "+he.Message)
			case sdk.CodePolicyDenied, sdk.CodeBadRequest:
				return sdk.FailPermanent(plain + ": " + he.Message)
			}
		}
		return sdk.Fail(plain + ": " + err.Error())
	}
	msg := fmt.Sprintf("%s: %s answered HTTP %d", plain, req.Method, resp.Status)
	if s := snippet(resp.Body); s != "" {
		msg += ": " + s
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
