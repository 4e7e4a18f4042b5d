// Command signal delivers notifications through a signal-cli-rest-api
// server exactly as Apprise 1.9.8's signal_api plugin does.
//
// URL forms:
//
//	signal://HOST[:PORT]/FROM_PHONE                  to yourself
//	signal://HOST[:PORT]/FROM_PHONE/TARGET[/TARGET…] phones and groups
//	signals://USER:PASSWORD@HOST[:PORT]/…            https, basic auth
//
// A target is a phone number (10 to 14 digits, "+" optional) or a group as
// "@GROUP_ID" or "group.GROUP_ID"; ?to= adds more, ?from= gives the sender
// (then every path entry is a target). Options: batch=yes (up to 10
// recipients per request, else one request per recipient), status=yes
// (prefix "[i] "), format=markdown (text_mode "styled").
//
// Request: POST {http|https}://HOST[:PORT]/v2/send with JSON {message,
// number, text_mode, recipients[, base64_attachments]}; attachments go
// inline as base64. Signal has no title: the host merges it into the body.
// HTTP 200 and 201 count as sent.
package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const (
	usage     = "signal://HOST[:PORT]/FROM_PHONE[/TO_PHONE|@GROUP…] (signals:// for https)"
	batchSize = 10
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "signal",
		Version:     "1.0.0",
		Schemes:     []string{"signal", "signals"},
		UserHost:    true,
		Format:      "text",
		NoTitle:     true,
		BodyMaxLen:  32768,
		Attachments: "any",
	}, signal{})
}

func main() {}

type signal struct{}

var groupRE = regexp.MustCompile(`(?i)^\s*((@|%40)?(group\.)|@|%40)([a-z0-9_=-]+)`)

// config is a parsed signal URL.
type config struct {
	secure         bool
	host, hostPort string
	user, password string
	auth           bool
	source         string
	targets        []string // "+digits" or "group.ID"
	dropped        []string
	batch, status  bool
	format         string
}

func parse(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("signal: %v", err)
	}
	if u.Scheme != "signal" && u.Scheme != "signals" {
		return nil, fmt.Errorf("signal: scheme %q is not signal:// or signals://", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("signal:// needs the host of your signal-cli-rest-api server: %s", usage)
	}
	c := &config{secure: u.Scheme == "signals", host: u.Host, hostPort: u.HostPort(0)}
	c.user, c.password, c.auth = apprise.Credentials(raw, u)
	entries := append([]string(nil), u.Path...)
	source := apprise.Unquote(apprise.Opt(u, "from"))
	if source == "" && len(entries) > 0 {
		source, entries = entries[0], entries[1:]
	}
	if source == "" {
		return nil, fmt.Errorf("signal:// needs the phone number you send from: %s", usage)
	}
	digits, ok := phoneNo(source)
	if !ok {
		return nil, fmt.Errorf("signal: %q is not a phone number to send from (10 to 14 digits): %s", source, usage)
	}
	c.source = "+" + digits
	if to := apprise.Opt(u, "to"); to != "" {
		entries = append(entries, findPhones(to)...)
	}
	if len(entries) == 0 {
		c.targets = []string{c.source}
	}
	for _, e := range entries {
		for _, t := range findPhones(e) {
			if d, ok := phoneNo(t); ok {
				c.targets = append(c.targets, "+"+d)
			} else if m := groupRE.FindStringSubmatch(t); m != nil {
				c.targets = append(c.targets, "group."+m[4])
			} else {
				c.dropped = append(c.dropped, t)
			}
		}
	}
	if len(c.targets) == 0 {
		return nil, fmt.Errorf("signal: no valid recipient in %q: give phone numbers (10 to 14 digits) or groups as @GROUP_ID", strings.Join(c.dropped, ", "))
	}
	c.batch = apprise.ParseBool(u.Options["batch"], false)
	c.status = apprise.ParseBool(u.Options["status"], false)
	if c.format, err = apprise.Format(u); err != nil {
		return nil, fmt.Errorf("signal: %v", err)
	}
	return c, nil
}

// Validate checks a notifier URL when the configuration loads.
func (signal) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	scheme := "signal"
	if c.secure {
		scheme = "signals"
	}
	red := scheme + "://"
	if c.auth {
		red += c.user + ":****@"
	}
	red += c.hostPort + "/" + c.source
	for _, t := range c.targets {
		if t != c.source || len(c.targets) > 1 {
			red += "/" + strings.Replace(t, "group.", "@", 1)
		}
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{c.host}, RedactedURL: red}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// asciiStatus is Apprise's plain-text glyph per notify type.
var asciiStatus = map[string]string{"info": "[i]", "success": "[+]", "failure": "[!]", "warning": "[~]"}

// Send delivers one message, one request per recipient (or per ten with
// batch=yes).
func (signal) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	var atts []string
	for _, a := range req.Attachments {
		b64, err := apprise.AttachmentBase64(a)
		if err != nil {
			return sdk.Fail("signal: " + err.Error())
		}
		atts = append(atts, b64)
	}
	message := req.Body
	if c.status {
		nt := req.NotifyType
		if nt == "" {
			nt = "info"
		}
		glyph, ok := asciiStatus[nt]
		if !ok {
			glyph = "[?]"
		}
		message = glyph + " " + message
	}
	message = strings.TrimRightFunc(message, unicode.IsSpace)
	textMode := "normal"
	if c.format == "markdown" {
		textMode = "styled"
	}
	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	headers := [][2]string{{"Content-Type", "application/json"}}
	if c.auth {
		headers = append(headers, [2]string{"Authorization", apprise.BasicAuth(c.user, c.password)})
	}
	size := 1
	if c.batch {
		size = batchSize
	}
	var failed *sdk.SendResult
	for i := 0; i < len(c.targets); i += size {
		rcpt := c.targets[i:min(i+size, len(c.targets))]
		payload := apprise.Object{{Key: "message", Value: message}, {Key: "number", Value: c.source}, {Key: "text_mode", Value: textMode}, {Key: "recipients", Value: rcpt}}
		if len(atts) > 0 {
			payload = append(payload, apprise.Member{Key: "base64_attachments", Value: atts})
		}
		resp, err := sdk.HTTP(sdk.HTTPRequest{
			Method:  "POST",
			URL:     scheme + "://" + c.hostPort + "/v2/send",
			Headers: headers,
			Body:    apprise.Dumps(payload),
		})
		var r sdk.SendResult
		if err != nil {
			r = apprise.HostFailure("signal", err)
		} else {
			r = result(resp)
		}
		if !r.OK && failed == nil {
			r.Error += " (to " + strings.Join(rcpt, ", ") + ")"
			failed = &r
		}
	}
	if failed != nil {
		return *failed
	}
	res := sdk.Sent()
	if len(c.dropped) > 0 {
		res.Info = "skipped invalid recipient " + strings.Join(c.dropped, ", ")
	}
	return res
}

// result maps the server's answer; signal-cli-rest-api reports errors as
// {"error":"…"}.
func result(resp *sdk.HTTPResponse) sdk.SendResult {
	return apprise.Outcome(resp, "signal: "+apprise.HTTPText(resp, jsonError(resp.Body)), 200, 201)
}

// phoneNo is Apprise's is_phone_no(): the digits of a phone number of 10
// to 14 digits written with blanks, parentheses, '+' or '-'.
func phoneNo(s string) (string, bool) {
	t := strings.TrimRightFunc(strings.TrimPrefix(s, "+"), unicode.IsSpace)
	if t == "" {
		return "", false
	}
	var d strings.Builder
	for _, r := range t {
		switch {
		case r >= '0' && r <= '9':
			d.WriteRune(r)
		case unicode.IsSpace(r) || r == ')' || r == '(' || r == '+' || r == '-':
		default:
			return "", false
		}
	}
	if n := d.Len(); n < 10 || n > 14 {
		return "", false
	}
	return d.String(), true
}

// findPhones is Apprise's parse_phone_no(): the phone numbers found by
// PHONE_NO_DETECTION_RE,
//
//	\s*([+(\s]*[0-9][0-9()\s-]+[0-9])(?=$|[\s,+(]+[0-9])
//
// or, when there are none, the entry split at list delimiters.
func findPhones(s string) []string {
	r := []rune(s)
	var out []string
	for i := 0; i < len(r); {
		if g, end, ok := phoneAt(r, i); ok {
			out = append(out, g)
			i = end
			continue
		}
		i++
	}
	if len(out) == 0 {
		out = strings.FieldsFunc(s, apprise.IsListDelim)
	}
	return out
}

// phoneAt matches PHONE_NO_DETECTION_RE at position i as Python's
// backtracking engine does, returning group 1 and the match end.
func phoneAt(r []rune, i int) (string, int, bool) {
	n := len(r)
	digit := func(c rune) bool { return c >= '0' && c <= '9' }
	p := i
	for p < n && unicode.IsSpace(r[p]) {
		p++
	}
	start := p
	for p < n && (r[p] == '+' || r[p] == '(' || unicode.IsSpace(r[p])) {
		p++
	}
	if p >= n || !digit(r[p]) {
		return "", 0, false
	}
	q := p + 1
	m := q
	for m < n && (digit(r[m]) || r[m] == '(' || r[m] == ')' || r[m] == '-' || unicode.IsSpace(r[m])) {
		m++
	}
	ahead := func(e int) bool {
		if e == n || e == n-1 && r[e] == '\n' {
			return true
		}
		k := e
		for k < n && (unicode.IsSpace(r[k]) || r[k] == ',' || r[k] == '+' || r[k] == '(') {
			k++
		}
		return k > e && k < n && digit(r[k])
	}
	for e := m; e >= q+2; e-- {
		if digit(r[e-1]) && ahead(e) {
			return string(r[start:e]), e, true
		}
	}
	return "", 0, false
}

// jsonError extracts {"error":"…"} from a response body.
func jsonError(b []byte) string {
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		if s, ok := e.Error.(string); ok {
			return s
		}
	}
	return ""
}
