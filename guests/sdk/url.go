package sdk

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// URL is a parsed Apprise-style notification URL:
//
//	scheme://user:password@host:port/path/segments?option=value&+Header=v&-param=v&:field=v
//
// Query options are split by their first character, as Apprise does:
// "+name" adds an HTTP header, "-name" a query parameter for the outbound
// request, ":name" a payload field; anything else is a plain option whose
// name is lower-cased.
type URL struct {
	Scheme   string
	User     string
	Password string
	// Host is the host name or address; an IPv6 literal is kept without
	// brackets. When the text after the last ':' is not a port number (a
	// Telegram bot token such as "123:ABC"), it stays part of Host.
	Host string
	// Port is 0 when the URL names none.
	Port int
	// Path holds the non-empty, unescaped path segments.
	Path []string
	// Options, Headers, Params and Fields hold the query, by prefix.
	Options map[string]string
	Headers map[string]string
	Params  map[string]string
	Fields  map[string]string
	// Fragment is the unescaped text after '#'.
	Fragment string
}

// ParseURL parses an Apprise-style URL. It is lenient where services need
// it: the user part is split at the last '@', the password at the first
// ':', and every part is percent-decoded ('+' stays '+').
func ParseURL(raw string) (*URL, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok || scheme == "" {
		return nil, fmt.Errorf("url %q: want scheme://…", redactRaw(raw))
	}
	for i, c := range scheme {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return nil, fmt.Errorf("url %q: bad scheme %q", redactRaw(raw), scheme)
		}
	}
	u := &URL{
		Scheme:  strings.ToLower(scheme),
		Options: map[string]string{}, Headers: map[string]string{},
		Params: map[string]string{}, Fields: map[string]string{},
	}
	var err error
	if rest, u.Fragment, ok = strings.Cut(rest, "#"); ok {
		if u.Fragment, err = url.PathUnescape(u.Fragment); err != nil {
			return nil, fmt.Errorf("url %q: fragment: %w", redactRaw(raw), err)
		}
	}
	rest, query, _ := strings.Cut(rest, "?")
	authority, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		user, pass, hasPass := strings.Cut(authority[:i], ":")
		authority = authority[i+1:]
		if u.User, err = url.PathUnescape(user); err != nil {
			return nil, fmt.Errorf("url %q: user: %w", redactRaw(raw), err)
		}
		if hasPass {
			if u.Password, err = url.PathUnescape(pass); err != nil {
				return nil, fmt.Errorf("url %q: password: %w", redactRaw(raw), err)
			}
		}
	}
	host := authority
	if strings.HasPrefix(host, "[") {
		end := strings.IndexByte(host, ']')
		if end < 0 {
			return nil, fmt.Errorf("url %q: unclosed '[' in host", redactRaw(raw))
		}
		h, port := host[1:end], host[end+1:]
		host = h
		if port != "" {
			if u.Port, err = parsePort(strings.TrimPrefix(port, ":")); err != nil || port[0] != ':' {
				return nil, fmt.Errorf("url %q: bad port %q", redactRaw(raw), port)
			}
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		if p, err := parsePort(host[i+1:]); err == nil {
			host, u.Port = host[:i], p
		}
	}
	if u.Host, err = url.PathUnescape(host); err != nil {
		return nil, fmt.Errorf("url %q: host: %w", redactRaw(raw), err)
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "" {
			continue
		}
		s, err := url.PathUnescape(seg)
		if err != nil {
			return nil, fmt.Errorf("url %q: path: %w", redactRaw(raw), err)
		}
		u.Path = append(u.Path, s)
	}
	for _, kv := range strings.Split(query, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if k, err = url.PathUnescape(k); err != nil {
			return nil, fmt.Errorf("url %q: query: %w", redactRaw(raw), err)
		}
		if v, err = url.PathUnescape(v); err != nil {
			return nil, fmt.Errorf("url %q: query %s: %w", redactRaw(raw), k, err)
		}
		switch {
		case len(k) > 1 && k[0] == '+':
			u.Headers[k[1:]] = v
		case len(k) > 1 && k[0] == '-':
			u.Params[k[1:]] = v
		case len(k) > 1 && k[0] == ':':
			u.Fields[k[1:]] = v
		default:
			u.Options[strings.ToLower(k)] = v
		}
	}
	return u, nil
}

func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 {
		return 0, fmt.Errorf("bad port %q", s)
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > 65535 || s[0] == '+' || s[0] == '-' {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return p, nil
}

// redactRaw hides the password in a URL that may not parse, for errors.
func redactRaw(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndexByte(rest[:end], '@')
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":****" + rest[at:]
}

// Option returns the plain option name (case-insensitive), or def when the
// URL does not set it.
func (u *URL) Option(name, def string) string {
	if v, ok := u.Options[strings.ToLower(name)]; ok {
		return v
	}
	return def
}

// Bool returns a yes/no option: "yes", "true", "on", "1" and an empty value
// are true; "no", "false", "off", "0" are false; anything else, or no
// option, is def.
func (u *URL) Bool(name string, def bool) bool {
	v, ok := u.Options[strings.ToLower(name)]
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "", "yes", "y", "true", "on", "1":
		return true
	case "no", "n", "false", "off", "0":
		return false
	}
	return def
}

// Int returns an integer option, def when absent, or an error naming the
// option when it is not a number.
func (u *URL) Int(name string, def int) (int, error) {
	v, ok := u.Options[strings.ToLower(name)]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return def, fmt.Errorf("option %s: %q is not a number", strings.ToLower(name), v)
	}
	return n, nil
}

// HostPort returns host:port for an outbound request, using defPort when
// the URL has none (and no port at all when defPort is 0).
func (u *URL) HostPort(defPort int) string {
	h := u.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	p := u.Port
	if p == 0 {
		p = defPort
	}
	if p == 0 {
		return h
	}
	return h + ":" + strconv.Itoa(p)
}

// Redacted returns the URL with the password replaced by "****", safe to
// log. Path segments and options are kept: a transport whose token sits in
// the path should implement Validate and redact it.
func (u *URL) Redacted() string {
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != "" || u.Password != "" {
		b.WriteString(url.PathEscape(u.User))
		if u.Password != "" {
			b.WriteString(":****")
		}
		b.WriteByte('@')
	}
	b.WriteString(u.HostPort(0))
	for _, s := range u.Path {
		b.WriteString("/" + url.PathEscape(s))
	}
	return b.String()
}
