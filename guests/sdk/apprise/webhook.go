package apprise

// Apprise 1.9.8's generic webhooks (json://, form://, xml://): how it parses
// their URLs (utils/parse.py parse_url and parse_qsd, then the plugins' own
// parse_url) and what python-requests puts on the wire for them.

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// methods are the HTTP methods Apprise 1.9.8 accepts in ?method=.
var methods = []string{"POST", "GET", "DELETE", "PUT", "HEAD", "PATCH"}

// Webhook is a parsed json://, form:// or xml:// URL.
type Webhook struct {
	Scheme string // as written, lower case: json, jsons, form, …
	Secure bool
	Host   string // without IPv6 brackets
	Port   int    // 0: none given
	// Auth is set when the URL names a user; Password "None" is what
	// requests sends when Apprise has a user but no password.
	Auth           bool
	User, Password string
	Path           string            // percent-encoded, as requests sends it
	Method         string            // POST unless ?method= says otherwise
	Headers        Object            // +Name=value, string values
	Params         Object            // -name=value, string values
	Payload        Object            // :key=value, string values
	Qsd            map[string]string // every option, keys lower case
	Format         string            // text, markdown or html when ?format= is valid
}

// ParseWebhook parses raw as Apprise 1.9.8 does for its custom webhooks.
// plain is the scheme without the trailing "s" (json, form, xml).
func ParseWebhook(raw, plain string) (*Webhook, error) {
	usage := fmt.Sprintf("%s://[user[:password]@]host[:port][/path] (%ss:// for https)", plain, plain)
	raw = strings.TrimFunc(raw, IsPySpace)
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
	query = strings.TrimFunc(query, IsPySpace)

	u, err := sdk.ParseURL(scheme + "://" + location)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", plain, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s: the URL names no host; use %s", plain, usage)
	}
	if !IsHostname(u.Host) {
		return nil, fmt.Errorf("%s: %q is not a valid host name or address; use %s", plain, u.Host, usage)
	}
	w := &Webhook{Scheme: scheme, Secure: scheme == plain+"s", Host: u.Host, Port: u.Port, Method: "POST"}
	w.Qsd, w.Headers, w.Params, w.Payload = parseQuery(query)

	// User and password, with Apprise's ?user=, ?pass= and ?password=
	// overrides; a password-less user@ becomes the password when ?user=
	// names the user.
	user, password, hasPassword := u.User, u.Password, HasPassword(location)
	// Values from the query are decoded a second time, as Apprise does.
	if v, ok := w.Qsd["password"]; ok {
		password, hasPassword = Unquote(v), true
	}
	if v, ok := w.Qsd["pass"]; ok {
		password, hasPassword = Unquote(v), true
	}
	if v, ok := w.Qsd["user"]; ok {
		if !hasPassword && user != "" {
			password, hasPassword = user, true
		}
		user = Unquote(v)
	}
	if user != "" {
		w.Auth, w.User, w.Password = true, user, password
		if !hasPassword {
			w.Password = "None"
		}
	}
	if v, ok := w.Qsd["port"]; ok && v != "" {
		// Apprise drops a port that is not a number, with a warning.
		p, err := strconv.Atoi(v)
		if err == nil && (p < 1 || p > 65535) {
			return nil, fmt.Errorf("%s: port=%s is not a port number (1-65535)", plain, v)
		}
		w.Port = max(p, 0)
	}
	if v := w.Qsd["method"]; v != "" {
		w.Method = strings.ToUpper(Unquote(v))
		if !slices.Contains(methods, w.Method) {
			return nil, fmt.Errorf("%s: method=%s is not one of %s", plain, v, strings.Join(methods, ", "))
		}
	}
	if f := strings.ToLower(w.Qsd["format"]); f == "text" || f == "markdown" || f == "html" {
		w.Format = f
	}

	path, _, _ := strings.Cut(location, "#")
	if i := strings.IndexByte(path, '/'); i >= 0 {
		path = path[i:]
	} else {
		path = ""
	}
	w.Path = wirePath(path, rest[max(len(rest)-1, 0):])
	return w, nil
}

// parseQuery splits the query as Apprise's parse_qsd does, then decodes the
// prefixed families a second time as the webhook plugins do.
func parseQuery(query string) (qsd map[string]string, headers, params, payload Object) {
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
			k = Unquote(k)
			v = strings.TrimFunc(Unquote(v), IsPySpace)
			qsd[strings.ToLower(strings.TrimFunc(k, IsPySpace))] = v
			if k == "" {
				continue
			}
			name := Unquote(k[1:])
			switch k[0] {
			case '+', ' ':
				headers.Set(name, Unquote(v))
			case '-':
				params.Set(name, Unquote(v))
			case ':':
				payload.Set(name, Unquote(v))
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
	path = strings.TrimFunc(path, IsPySpace)
	path = tidyWin.ReplaceAllString(path, "$1")
	path = tidyNux.ReplaceAllString(path, "$1")
	path = tidyWinTrim.ReplaceAllString(path, "$1")
	path = Quote(Unquote(path), "/")
	if path != "" && !strings.HasSuffix(path, "/") && (urlEnd == "/" || urlEnd == "\\") {
		path += Quote(urlEnd, "/")
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

// URL is the request URL without query: the port is left out when it is
// the scheme's default, as the Host header requests sends leaves it out.
func (w *Webhook) URL() string {
	scheme, def := "http", 80
	if w.Secure {
		scheme, def = "https", 443
	}
	host := w.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if w.Port != 0 && w.Port != def {
		host += ":" + strconv.Itoa(w.Port)
	}
	return scheme + "://" + host + w.Path
}

// Redacted is the URL without password, options or extra headers.
func (w *Webhook) Redacted() string {
	var b strings.Builder
	b.WriteString(w.Scheme + "://")
	if w.Auth {
		b.WriteString(Quote(w.User, ""))
		if w.Password != "None" {
			b.WriteString(":****")
		}
		b.WriteByte('@')
	}
	host := w.Host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	b.WriteString(host)
	if w.Port != 0 {
		b.WriteString(":" + strconv.Itoa(w.Port))
	}
	b.WriteString(w.Path)
	return b.String()
}

// Validate is the shared part of a webhook transport's Validate: the
// host, the redacted URL and a valid ?format=.
func (w *Webhook) Validate() sdk.ValidateResult {
	res := sdk.ValidateResult{OK: true, Hosts: []string{w.Host}, RedactedURL: w.Redacted()}
	if w.Format != "" {
		res.Options = map[string]string{"format": w.Format}
	}
	return res
}

// RequestHeaders returns the plugin's own headers overridden by the URL's
// +Name=value headers, case-insensitively as requests merges them, plus
// requests' default Accept and the basic auth it adds.
func (w *Webhook) RequestHeaders(own ...[2]string) ([][2]string, error) {
	hs := append([][2]string{{"Accept", "*/*"}}, own...)
	for _, h := range w.Headers {
		if h.Key == "" {
			return nil, errors.New("an empty +header name in the URL")
		}
		i := slices.IndexFunc(hs, func(e [2]string) bool { return strings.EqualFold(e[0], h.Key) })
		if i >= 0 {
			hs = slices.Delete(hs, i, i+1)
		}
		hs = append(hs, [2]string{h.Key, h.Value.(string)})
	}
	if w.Auth { // requests' auth= replaces any Authorization header
		hs = slices.DeleteFunc(hs, func(e [2]string) bool { return strings.EqualFold(e[0], "Authorization") })
		hs = append(hs, [2]string{"Authorization", BasicAuth(w.User, w.Password)})
	}
	return hs, nil
}

// HasHeader reports whether hs holds a header named name, in any case.
func HasHeader(hs [][2]string, name string) bool {
	return slices.ContainsFunc(hs, func(e [2]string) bool { return strings.EqualFold(e[0], name) })
}

// AttachmentName is the file name Apprise gives an attachment: its own,
// else fileNNN.dat.
func AttachmentName(a sdk.AttachmentInfo, no int) string {
	if a.Name != "" {
		return a.Name
	}
	return fmt.Sprintf("file%03d.dat", no)
}

// AttachmentMIME is the attachment's MIME type, application/octet-stream
// when unknown.
func AttachmentMIME(a sdk.AttachmentInfo) string {
	if a.MIME != "" {
		return a.MIME
	}
	return "application/octet-stream"
}

// Do sends one request and maps the outcome: any 2xx is sent, as in
// Apprise; 429 and 5xx are retried honouring Retry-After; network failures
// are retried; what the host refused is not ([HostFailure]).
func Do(service string, req sdk.HTTPRequest) sdk.SendResult {
	resp, err := sdk.HTTP(req)
	if err != nil {
		return HostFailure(service, err)
	}
	msg := fmt.Sprintf("%s: %s answered HTTP %d", service, req.Method, resp.Status)
	if s := Snippet(resp.Body); s != "" {
		msg += ": " + s
	}
	return sdk.ResultForStatus(resp.Status, RetryAfter(resp), msg)
}
