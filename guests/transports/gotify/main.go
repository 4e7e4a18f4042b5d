// Command gotify delivers notifications to a Gotify server exactly as
// Apprise 1.9.8's gotify plugin does.
//
// URL forms:
//
//	gotify://HOST[:PORT]/APP_TOKEN          http
//	gotifys://HOST[:PORT]/APP_TOKEN         https
//	gotify[s]://HOST[:PORT]/PATH/APP_TOKEN  Gotify behind a path prefix
//
// Options: priority (low|moderate|normal|high|emergency or 0-10, default
// normal = 5), format=markdown (adds the client::display extra).
//
// Request: POST {http|https}://HOST[:PORT][/PATH]/message with the header
// X-Gotify-Key: APP_TOKEN and JSON {priority, title, message[, extras]}.
// Gotify has no attachments. Only HTTP 200 counts as sent.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "gotify",
		Version:     "1.0.0",
		Schemes:     []string{"gotify", "gotifys"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "none",
	}, gotify{})
}

func main() {}

const usage = "gotify://HOST[:PORT]/APP_TOKEN (gotifys:// for https)"

// priorities maps the start of a priority option to Gotify's number; "10"
// comes before "1" as in Apprise.
var priorities = []struct {
	prefix string
	value  int
}{
	{"l", 0}, {"m", 3}, {"n", 5}, {"h", 8}, {"e", 10},
	{"10", 10}, {"0", 0}, {"1", 0}, {"2", 0}, {"3", 3}, {"4", 3},
	{"5", 5}, {"6", 5}, {"7", 5}, {"8", 8}, {"9", 8},
}

type gotify struct{}

// config is a parsed gotify URL.
type config struct {
	secure   bool
	hostPort string
	host     string
	path     []string // path segments before the token
	token    string
	priority int
	markdown bool
	format   string
}

func parse(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("gotify: %v", err)
	}
	if u.Scheme != "gotify" && u.Scheme != "gotifys" {
		return nil, fmt.Errorf("gotify: scheme %q is not gotify:// or gotifys://", u.Scheme)
	}
	if !apprise.IsHostname(u.Host) {
		return nil, fmt.Errorf("gotify: %q is not a host name; use %s", u.Host, usage)
	}
	c := &config{secure: u.Scheme == "gotifys", host: u.Host, hostPort: u.HostPort(0), priority: 5}
	entries := u.Path
	if len(entries) == 0 {
		return nil, fmt.Errorf("gotify: no application token; use %s", usage)
	}
	c.token, c.path = entries[len(entries)-1], entries[:len(entries)-1]
	if p := apprise.Opt(u, "priority"); p != "" {
		p = strings.ToLower(apprise.Unquote(p))
		for _, e := range priorities {
			if strings.HasPrefix(p, e.prefix) {
				c.priority = e.value
				break
			}
		}
	}
	switch f := strings.ToLower(apprise.Opt(u, "format")); f {
	case "text", "markdown", "html":
		c.format = f
		c.markdown = f == "markdown"
	}
	return c, nil
}

// url is where the message is posted: the path prefix, then "message".
func (c *config) url() string {
	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	p := "/"
	for _, s := range c.path {
		p += apprise.Quote(s, "!$&'()*+,:;=@") + "/"
	}
	return scheme + "://" + c.hostPort + p + "message"
}

// Validate checks a notifier URL when the configuration loads.
func (gotify) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	scheme := "gotify"
	if c.secure {
		scheme = "gotifys"
	}
	red := scheme + "://" + c.hostPort + "/"
	for _, s := range c.path {
		red += s + "/"
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{c.host}, RedactedURL: red + "****"}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// Send delivers one message.
func (gotify) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	payload := apprise.Object{{Key: "priority", Value: c.priority}, {Key: "title", Value: req.Title}, {Key: "message", Value: req.Body}}
	if c.markdown {
		payload = append(payload, apprise.Member{Key: "extras", Value: apprise.Object{{Key: "client::display", Value: apprise.Object{{Key: "contentType", Value: "text/markdown"}}}}})
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method: "POST",
		URL:    c.url(),
		Headers: [][2]string{
			{"Content-Type", "application/json"},
			{"X-Gotify-Key", c.token},
		},
		Body: apprise.Dumps(payload),
	})
	if err != nil {
		return apprise.HostFailure("gotify", err)
	}
	return apprise.Outcome(resp, "gotify: "+errorText(resp), 200)
}

// errorText is Gotify's own explanation:
// {"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token…"}.
func errorText(resp *sdk.HTTPResponse) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"errorDescription"`
	}
	if json.Unmarshal(resp.Body, &e) == nil && (e.Error != "" || e.Description != "") {
		return fmt.Sprintf("HTTP %d: %s", resp.Status, strings.TrimPrefix(e.Error+": "+e.Description, ": "))
	}
	if s := apprise.Snippet(resp.Body); s != "" {
		return fmt.Sprintf("HTTP %d: %s", resp.Status, s)
	}
	return fmt.Sprintf("HTTP %d", resp.Status)
}
