// Command hassio delivers notifications to Home Assistant as persistent
// notifications, exactly as Apprise 1.9.8's home_assistant plugin does.
//
// URL forms:
//
//	hassio://HOST[:PORT]/LONG_LIVED_TOKEN          http, port 8123 unless given
//	hassios://HOST[:PORT]/LONG_LIVED_TOKEN         https, port 443 unless given
//	hassio[s]://HOST[:PORT]/PATH/LONG_LIVED_TOKEN  Home Assistant behind a path prefix
//	hassio[s]://HOST[:PORT][/PATH]?accesstoken=TOKEN
//
// Options: nid (notification id: a message with the same id replaces the
// previous one; without it every message gets a fresh random id),
// format=text|markdown|html (what the body is converted to; text by default).
//
// Request: POST {http|https}://HOST:PORT[/PATH]/api/services/persistent_notification/create
// with Authorization: Bearer TOKEN and JSON {title, message,
// notification_id}. Home Assistant has no attachments here. Only HTTP 200
// counts as sent.
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "hassio",
		Version:     "1.0.0",
		Schemes:     []string{"hassio", "hassios"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "none",
	}, hassio{})
}

func main() {}

const (
	usage       = "hassio://HOST[:PORT]/LONG_LIVED_TOKEN (hassios:// for https)"
	defaultPort = 8123
	service     = "/api/services/persistent_notification/create"
)

var nidRE = regexp.MustCompile(`(?i)^[a-z0-9_-]+$`)

type hassio struct{}

// config is a parsed hassio URL.
type config struct {
	secure      bool
	host        string
	hostPort    string
	prefix      string // path before the service, without a trailing '/'
	token       string
	user        string
	password    string
	hasPassword bool
	nid         string
	format      string
}

func parse(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("hassio: %v", err)
	}
	if u.Scheme != "hassio" && u.Scheme != "hassios" {
		return nil, fmt.Errorf("hassio: scheme %q is not hassio:// or hassios://", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("hassio: the URL names no host; use %s", usage)
	}
	c := &config{
		secure: u.Scheme == "hassios", host: u.Host,
		user: u.User, password: u.Password, hasPassword: apprise.HasPassword(raw),
	}
	c.hostPort = u.HostPort(0)
	if !c.secure && u.Port == 0 {
		c.hostPort = u.HostPort(defaultPort)
	}
	segs := u.Path
	if t := apprise.Opt(u, "accesstoken"); t != "" {
		c.token = apprise.Unquote(t)
	} else if len(segs) > 0 {
		c.token, segs = segs[len(segs)-1], segs[:len(segs)-1]
	}
	if c.token == "" || strings.ContainsAny(c.token[:1], " \t\r\n\f\v") {
		return nil, fmt.Errorf("hassio: no long-lived access token (create one in your Home Assistant profile); use %s", usage)
	}
	c.token = strings.TrimSpace(c.token)
	for _, s := range segs {
		c.prefix += "/" + apprise.Quote(s, "!$&'()*+,:;=@")
	}
	if v := apprise.Opt(u, "nid"); v != "" {
		c.nid = apprise.Unquote(v)
		if !nidRE.MatchString(c.nid) {
			return nil, fmt.Errorf("hassio: nid %q may hold only letters, digits, '_' and '-'", c.nid)
		}
	}
	switch f := strings.ToLower(apprise.Opt(u, "format")); f {
	case "text", "markdown", "html":
		c.format = f
	}
	return c, nil
}

// Validate checks a notifier URL when the configuration loads.
func (hassio) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	scheme := "hassio"
	if c.secure {
		scheme = "hassios"
	}
	auth := apprise.RedactedUser(c.user, c.hasPassword)
	red := scheme + "://" + auth + c.hostPort + c.prefix + "/****"
	if c.nid != "" {
		red += "?nid=" + c.nid
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{c.host}, RedactedURL: red}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// Send delivers one message.
func (hassio) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	nid := c.nid
	if nid == "" {
		nid = uuid4()
	}
	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	headers := [][2]string{
		{"Content-Type", "application/json"},
		{"Authorization", "Bearer " + c.token},
	}
	if c.user != "" {
		// requests replaces the Bearer header with basic auth when the URL
		// has a user; Apprise 1.9.8 sends exactly that.
		headers[1][1] = apprise.BasicAuth(c.user, apprise.OrNone(c.password, c.hasPassword))
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method:  "POST",
		URL:     scheme + "://" + c.hostPort + c.prefix + service,
		Headers: headers,
		Body:    apprise.Dumps(apprise.Object{{Key: "title", Value: req.Title}, {Key: "message", Value: req.Body}, {Key: "notification_id", Value: nid}}),
	})
	if err != nil {
		return apprise.HostFailure("home assistant", err)
	}
	return apprise.Outcome(resp, "home assistant: "+errorText(resp), 200)
}

// uuid4 returns a random UUID, as Python's str(uuid.uuid4()).
func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// errorText is Home Assistant's own explanation, {"message": "…"}, or the
// status line it sends for a bad token ("401: Unauthorized").
func errorText(resp *sdk.HTTPResponse) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(resp.Body, &e) == nil && e.Message != "" {
		return fmt.Sprintf("HTTP %d: %s", resp.Status, e.Message)
	}
	if s := apprise.Snippet(resp.Body); s != "" {
		return fmt.Sprintf("HTTP %d: %s", resp.Status, s)
	}
	return fmt.Sprintf("HTTP %d", resp.Status)
}
