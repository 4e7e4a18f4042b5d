// Command ifttt triggers IFTTT webhook events exactly as Apprise 1.9.8's
// ifttt plugin does.
//
// URL forms:
//
//	ifttt://WEBHOOK_KEY/EVENT[/EVENT…]
//	ifttt://WEBHOOK_KEY@EVENT[/EVENT…]
//	https://maker.ifttt.com/use/WEBHOOK_KEY/EVENT[/EVENT…]   (native)
//
// ?to= adds events; events are sorted and de-duplicated as Apprise's
// parse_list does. "+name=value" adds or replaces a JSON field and
// "-name" removes one (e.g. -value3), as Apprise documents them.
//
// Request: per event POST https://maker.ifttt.com/trigger/EVENT/with/key/KEY
// with JSON {"value1": title, "value2": body, "value3": "info"}. Only HTTP
// 200 counts as sent; a failed event does not stop the others.
package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const (
	apiHost = "maker.ifttt.com"
	usage   = "ifttt://WEBHOOK_KEY/EVENT[/EVENT…] or https://maker.ifttt.com/use/WEBHOOK_KEY/EVENT"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "ifttt",
		Version:     "1.0.0",
		Schemes:     []string{"ifttt"},
		NativeURLs:  []string{"https://maker.ifttt.com/use/", "http://maker.ifttt.com/use/"},
		Hosts:       []string{apiHost},
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "none",
	}, ifttt{})
}

func main() {}

type ifttt struct{}

// nativeRE is Apprise's parse_native_url() pattern.
var nativeRE = regexp.MustCompile(`(?i)^https?://maker\.ifttt\.com/use/([A-Z0-9_-]+)((/[A-Z0-9_-]+)+)?/?(\?.+)?$`)

// config is a parsed ifttt URL.
type config struct {
	key    string
	events []string
	add    [][2]string // +name=value, in URL order
	del    []string    // -name
	format string
}

func parse(raw string) (*config, error) {
	if m := nativeRE.FindStringSubmatch(raw); m != nil {
		// As Apprise: https://maker.ifttt.com/use/KEY/EV → ifttt://KEY@/EV.
		events := ""
		if m[2] != "" {
			events = "@" + m[2]
		}
		raw = "ifttt://" + m[1] + events + m[4]
	} else if strings.HasPrefix(strings.ToLower(raw), "http") {
		return nil, fmt.Errorf("ifttt: not an IFTTT webhook URL; use %s", usage)
	}
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("ifttt: %v", err)
	}
	if u.Scheme != "ifttt" {
		return nil, fmt.Errorf("ifttt: scheme %q is not ifttt://", u.Scheme)
	}
	c := &config{}
	var events []string
	host := u.HostPort(0)
	if u.User != "" {
		c.key = u.User
		events = append(events, host)
	} else {
		c.key = host
	}
	c.key = strings.TrimSpace(c.key)
	if c.key == "" {
		return nil, fmt.Errorf("ifttt:// needs your webhook key: %s", usage)
	}
	events = append(events, u.Path...)
	events = append(events, apprise.Opt(u, "to"))
	if c.events = apprise.ParseList(events...); len(c.events) == 0 {
		return nil, fmt.Errorf("ifttt:// needs at least one event name: %s", usage)
	}
	c.add, c.del = tokens(raw)
	if c.format, err = apprise.Format(u); err != nil {
		return nil, fmt.Errorf("ifttt: %v", err)
	}
	return c, nil
}

// tokens reads the +name=value and -name options in URL order, as
// Apprise's parse_qsd() does (keys keep their case, values are trimmed).
func tokens(raw string) (add [][2]string, del []string) {
	_, query, ok := strings.Cut(raw, "?")
	if !ok {
		return nil, nil
	}
	for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(kv, "=")
		if len(k) > 1 {
			k = k[:1] + strings.ReplaceAll(k[1:], "+", " ")
		}
		k, v = apprise.Unquote(k), strings.TrimSpace(apprise.Unquote(v))
		switch {
		case strings.HasPrefix(k, "+") || strings.HasPrefix(k, " "):
			add = setPair(add, k[1:], v)
		case strings.HasPrefix(k, "-"):
			del = append(del, k[1:])
		}
	}
	return add, del
}

// setPair sets k in an ordered list of pairs, keeping its first place.
func setPair(ps [][2]string, k, v string) [][2]string {
	for i := range ps {
		if ps[i][0] == k {
			ps[i][1] = v
			return ps
		}
	}
	return append(ps, [2]string{k, v})
}

// Validate checks a notifier URL when the configuration loads.
func (ifttt) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{apiHost}, RedactedURL: "ifttt://****/" + strings.Join(c.events, "/")}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// payload is the JSON IFTTT gets: value1..3, then the + fields; keys are
// lower-cased and the - fields dropped, as Apprise does.
func (c *config) payload(title, body, notifyType string) apprise.Object {
	all := [][2]string{{"value1", title}, {"value2", body}, {"value3", notifyType}}
	for _, p := range c.add {
		all = setPair(all, p[0], p[1])
	}
	var out [][2]string
next:
	for _, p := range all {
		for _, d := range c.del {
			if p[0] == d {
				continue next
			}
		}
		out = setPair(out, strings.ToLower(p[0]), p[1])
	}
	o := make(apprise.Object, 0, len(out))
	for _, p := range out {
		o = append(o, apprise.Member{Key: p[0], Value: p[1]})
	}
	return o
}

// Send triggers each event.
func (ifttt) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	nt := req.NotifyType
	if nt == "" {
		nt = "info"
	}
	body := apprise.Dumps(c.payload(req.Title, req.Body, nt))
	var failed *sdk.SendResult
	for _, ev := range c.events {
		resp, err := sdk.HTTP(sdk.HTTPRequest{
			Method:  "POST",
			URL:     apprise.Requote("https://" + apiHost + "/trigger/" + ev + "/with/key/" + c.key),
			Headers: [][2]string{{"Content-Type", "application/json"}},
			Body:    body,
		})
		var r sdk.SendResult
		if err != nil {
			r = apprise.HostFailure("ifttt", err)
		} else {
			r = result(resp)
		}
		if !r.OK && failed == nil {
			r.Error += " (event " + ev + ")"
			failed = &r
		}
	}
	if failed != nil {
		return *failed
	}
	return sdk.Sent()
}

// result maps IFTTT's answer; its errors look like
// {"errors":[{"message":"You sent an invalid key."}]}.
func result(resp *sdk.HTTPResponse) sdk.SendResult {
	var e struct {
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	_ = json.Unmarshal(resp.Body, &e)
	var msgs []string
	for _, m := range e.Errors {
		if m.Message != "" {
			msgs = append(msgs, m.Message)
		}
	}
	return apprise.Outcome(resp, "ifttt: "+apprise.HTTPText(resp, strings.Join(msgs, "; ")), 200)
}
