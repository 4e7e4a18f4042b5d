package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// address is a mailbox: an optional display name and the address.
type address struct {
	name string
	addr string
}

// config is what a mailto URL means, resolved as Apprise 1.9.8 does.
type config struct {
	smtpHost string
	port     int
	mode     string
	user     string
	password string
	from     address
	to       []address
	cc       []string // addresses; names in names
	bcc      []string
	replyTo  []string
	names    map[string]string
	headers  [][2]string // ?+Name=value, in URL order
	format   string      // ?format=, "" when not set
}

// emailRE checks an address and splits an optional display name:
// "Name <user@example.com>", "user@example.com".
var (
	emailRE    = regexp.MustCompile(`(?i)^[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@([a-z0-9]([a-z0-9_-]*[a-z0-9])?\.)*[a-z0-9]([a-z0-9_-]*[a-z0-9])?$`)
	hostnameRE = regexp.MustCompile(`(?i)^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.?$`)
)

// parseMailbox reads "addr", "Name <addr>" or "Name addr"; ok is false
// when no valid address is found.
func parseMailbox(s string) (address, bool) {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 && strings.HasSuffix(s, ">") {
		a := strings.TrimSpace(s[i+1 : len(s)-1])
		name := strings.Trim(strings.TrimSpace(s[:i]), `"'`)
		return address{name, a}, emailRE.MatchString(a)
	}
	if i := strings.LastIndexAny(s, " \t"); i >= 0 {
		a := s[i+1:]
		return address{strings.Trim(strings.TrimSpace(s[:i]), `"':`), a}, emailRE.MatchString(a)
	}
	return address{"", s}, emailRE.MatchString(s)
}

// splitMailboxes splits a list of mailboxes separated by commas or blanks,
// keeping a display name with the address that follows it.
func splitMailboxes(s string) []string {
	var out []string
	var cur []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' }) {
		cur = append(cur, f)
		if strings.Contains(f, "@") {
			out = append(out, strings.Join(cur, " "))
			cur = nil
		}
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, " "))
	}
	return out
}

// headerOrder returns the ?+Name=value headers in the order the raw URL
// gives them (Apprise keeps that order; sdk.URL.Headers is a map).
func headerOrder(raw string, u *sdk.URL) [][2]string {
	_, q, _ := strings.Cut(raw, "?")
	q, _, _ = strings.Cut(q, "#")
	var out [][2]string
	seen := map[string]bool{}
	for _, kv := range strings.Split(q, "&") {
		k, _, _ := strings.Cut(kv, "=")
		k, err := url.PathUnescape(k)
		if err != nil || len(k) < 2 || k[0] != '+' || seen[k[1:]] {
			continue
		}
		seen[k[1:]] = true
		out = append(out, [2]string{k[1:], u.Headers[k[1:]]})
	}
	return out
}

// parseConfig resolves a mailto URL: provider defaults, sender, recipients,
// server, port and TLS mode.
func parseConfig(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "mailto" && u.Scheme != "mailtos" {
		return nil, fmt.Errorf("mailto handles mailto:// and mailtos://, not %s://", u.Scheme)
	}
	secure := u.Scheme == "mailtos"
	c := &config{user: u.Option("user", u.User), password: u.Option("pass", u.Password), names: map[string]string{}, headers: headerOrder(raw, u)}
	if f := strings.ToLower(u.Option("format", "")); f != "" {
		if f != "text" && f != "markdown" && f != "html" {
			return nil, fmt.Errorf("mailto: format %q is not text, markdown or html", f)
		}
		c.format = f
	}
	host := u.Host
	var targets []string
	if !hostnameRE.MatchString(host) && !isIP(host) {
		// mailto://user@example.com with no user: the host is an address.
		if _, ok := parseMailbox(host); ok {
			targets = append(targets, host)
		}
		host = ""
	}
	targets = append(targets, u.Path...)
	if v := u.Option("to", ""); v != "" {
		targets = append(targets, v)
	}
	fromOpt := u.Option("from", "")
	if n := u.Option("name", ""); n != "" {
		if fromOpt != "" {
			fromOpt = n + " <" + fromOpt + ">"
		} else {
			fromOpt = n
		}
	}
	c.smtpHost = u.Option("smtp", "")
	modeSet := u.Option("mode", "") != ""
	c.mode = modeInsecure
	if secure {
		c.mode = modeStartTLS
	}
	if modeSet {
		c.mode = strings.ToLower(u.Option("mode", ""))
	}
	if _, ok := defaultPort[c.mode]; !ok {
		return nil, fmt.Errorf("mailto: mode %q is not one of starttls, ssl or insecure", u.Option("mode", ""))
	}
	c.port = u.Port
	addMailboxes := func(list string, into *[]string, what string) {
		for _, m := range splitMailboxes(list) {
			a, ok := parseMailbox(m)
			if !ok {
				sdk.Logf(sdk.LevelWarn, "mailto: dropped the invalid %s address %q", what, m)
				continue
			}
			if !contains(*into, a.addr) {
				*into = append(*into, a.addr)
			}
			c.names[a.addr] = a.name
		}
	}
	addMailboxes(u.Option("cc", ""), &c.cc, "Cc")
	addMailboxes(u.Option("bcc", ""), &c.bcc, "Bcc")
	addMailboxes(u.Option("reply", ""), &c.replyTo, "Reply-To")

	// Provider defaults, unless the URL names the SMTP server.
	if c.smtpHost == "" {
		probe := host
		if c.user != "" {
			probe = firstWord(c.user) + "@" + host
		}
		_, domain, hasAt := strings.Cut(probe, "@")
		if !hasAt {
			domain = probe
		}
		for _, p := range providers {
			if !p.domain.MatchString(domain) || (!hasAt && p.fromUser == "") {
				continue
			}
			if p.host != "" {
				secure = true
				c.smtpHost = p.host
			}
			if c.port == 0 && p.port != 0 {
				c.port = p.port
			}
			if !modeSet && p.mode != "" {
				c.mode = p.mode
			}
			switch {
			case p.login == "" || c.user == "":
			case emailRE.MatchString(c.user) && p.login == "userid":
				c.user, _, _ = strings.Cut(c.user, "@")
			case emailRE.MatchString(c.user):
				_, host, _ = strings.Cut(c.user, "@")
			case p.login == "email":
				c.user = c.user + "@" + host
			}
			if p.fromUser != "" && c.user == "" {
				c.from.addr = p.fromUser + "@" + host
			}
			break
		}
	}
	// The sender: user@host, then ?from= / ?name=.
	if c.user != "" {
		if host != "" {
			c.from = address{"Apprise", firstWord(c.user) + "@" + host}
		} else if a, ok := parseMailbox(c.user); ok {
			_, host, _ = strings.Cut(a.addr, "@")
			c.from = address{"Apprise", c.user}
		}
	}
	if fromOpt != "" {
		if a, ok := parseMailbox(fromOpt); ok {
			c.from = a
		} else {
			c.from.name = fromOpt
		}
	}
	if !emailRE.MatchString(c.from.addr) {
		return nil, fmt.Errorf("mailto needs a sender address: mailto://USER:PASSWORD@example.com, or add ?from=you@example.com")
	}
	c.names[c.from.addr] = c.from.name
	if len(targets) == 0 {
		c.to = []address{{"", c.from.addr}}
	}
	for _, t := range targets {
		for _, m := range splitMailboxes(t) {
			a, ok := parseMailbox(m)
			if !ok {
				sdk.Logf(sdk.LevelWarn, "mailto: dropped the invalid To address %q", m)
				continue
			}
			c.to = append(c.to, a)
		}
	}
	if len(c.to) == 0 {
		return nil, fmt.Errorf("mailto: no valid recipient address in the URL (mailto://USER:PASSWORD@example.com/to@example.com)")
	}
	if !secure && c.mode != modeInsecure {
		secure = true
	}
	if c.port == 0 {
		c.port = defaultPort[c.mode]
	}
	if c.smtpHost == "" {
		c.smtpHost = host
	}
	if c.smtpHost == "" {
		return nil, fmt.Errorf("mailto needs an SMTP server: mailto://USER:PASSWORD@example.com or ?smtp=mail.example.com")
	}
	return c, nil
}

// firstWord is the user up to the first '@' or blank.
func firstWord(s string) string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '@' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func isIP(h string) bool {
	if strings.Contains(h, ":") {
		return true
	}
	parts := strings.Split(h, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// tlsMode maps the Apprise mode to the host's SMTP TLS mode.
func (c *config) tlsMode() string {
	switch c.mode {
	case modeSSL:
		return sdk.SMTPImplicitTLS
	case modeStartTLS:
		return sdk.SMTPStartTLS
	}
	return sdk.SMTPTLSNone
}
