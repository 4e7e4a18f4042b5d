// Command ntfy delivers notifications to ntfy (https://ntfy.sh or a
// self-hosted server) exactly as Apprise 1.9.8's ntfy plugin does.
//
// URL forms:
//
//	ntfy://TOPIC                                   ntfy.sh (cloud mode), always https
//	https://ntfy.sh/TOPIC                          the same, pasted from the browser
//	ntfy[s]://HOST[:PORT]/TOPIC[/TOPIC…]           a private server (http, or https with ntfys)
//	ntfy[s]://USER:PASS@HOST[:PORT]/TOPIC          basic authentication
//	ntfy[s]://tk_TOKEN@HOST[:PORT]/TOPIC           access token (or ?token=, ?auth=token)
//
// Options: priority (max|high|default|low|min, 1-5), tags, click, delay,
// email, actions, attach (a URL ntfy fetches itself) with filename,
// avatar_url, image=no (no icon), auth=basic|token, token, mode=cloud|private,
// to (more topics), format=markdown (X-Markdown: yes).
//
// Without attachments each topic gets one POST of a JSON object
// {topic, title, message} to the server root. With attachments each file is
// one POST to /TOPIC?filename=NAME[&title=…&message=…] whose body is the raw
// file; the text rides on the first. Only HTTP 200 counts as sent.
package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "ntfy",
		Version:     "1.0.0",
		Schemes:     []string{"ntfy", "ntfys"},
		NativeURLs:  []string{"https://ntfy.sh/", "https://ntfy.sh?", "http://ntfy.sh/", "http://ntfy.sh?"},
		Hosts:       []string{"ntfy.sh"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 200,
		BodyMaxLen:  7800,
		Attachments: "any",
	}, ntfy{})
}

func main() {}

const (
	cloudURL = "https://ntfy.sh"
	// jsonLimit is the JSON size over which ntfy.sh rejects a message;
	// Apprise then sends the text as a file instead.
	jsonLimit = 8000
	// iconURL is Apprise's 256x256 "info" image, sent as X-Icon by default.
	iconURL = "https://github.com/caronc/apprise/raw/master/apprise/assets/themes/default/apprise-info-256x256.png"
	usage   = "ntfy://TOPIC, ntfy://HOST/TOPIC or ntfys://USER:PASS@HOST/TOPIC"
)

type ntfy struct{}

// config is a parsed ntfy URL.
type config struct {
	cloud    bool
	secure   bool
	hostPort string
	host     string
	// auth is "basic" or "token"; basic with no user sends no credentials.
	auth        string
	user        string
	password    string
	hasPassword bool
	token       string

	topics  []string // valid topics, sorted as Apprise sorts them
	invalid []string // topics Apprise ignores with a warning

	priority string // "" for default
	tags     []string
	click    string
	delay    string
	email    string
	actions  string
	attach   string
	filename string
	icon     string
	markdown bool
	format   string
}

var (
	nativeRE   = regexp.MustCompile(`(?i)^(http|ntfy)s?://ntfy\.sh(/[^?]+)?(\?.+)?$`)
	cloudHost  = regexp.MustCompile(`(?i)ntfy\.sh`)
	tokenUser  = regexp.MustCompile(`(?i)^tk_[^ \t]+`)
	topicRE    = regexp.MustCompile(`(?i)^[a-z0-9_-]{1,64}$`)
	priorities = [][2]string{ // prefix → priority, checked in this order
		{"l", "low"}, {"mo", "low"}, {"n", "default"}, {"h", "high"}, {"e", "max"},
		{"mi", "min"}, {"ma", "max"}, {"d", "default"},
		{"1", "min"}, {"2", "low"}, {"3", "default"}, {"4", "high"}, {"5", "max"},
	}
)

// parse reads a notifier URL the way Apprise's NotifyNtfy.parse_url and
// __init__ do.
func parse(raw string) (*config, error) {
	if !strings.HasPrefix(strings.ToLower(raw), "ntfy") {
		// A pasted https://ntfy.sh/topic is cloud mode.
		m := nativeRE.FindStringSubmatch(raw)
		if m == nil {
			return nil, fmt.Errorf("ntfy: %q is not an ntfy URL; use %s", sdkRedact(raw), usage)
		}
		params := "?mode=cloud"
		if m[3] != "" {
			params = m[3] + "&mode=cloud"
		}
		raw = "ntfys://" + m[2] + params
	}
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("ntfy: %v", err)
	}
	if u.Scheme != "ntfy" && u.Scheme != "ntfys" {
		return nil, fmt.Errorf("ntfy: scheme %q is not ntfy:// or ntfys://", u.Scheme)
	}
	c := &config{
		secure: u.Scheme == "ntfys", host: u.Host, hostPort: u.HostPort(0),
		user: u.User, password: u.Password, hasPassword: apprise.HasPassword(raw),
	}
	targets := slices.Clone(u.Path)
	if to := apprise.Opt(u, "to"); to != "" {
		targets = append(targets, apprise.ParseList(to)...)
	}
	if t := apprise.Opt(u, "token"); t != "" {
		c.auth, c.token = "token", apprise.Unquote(t)
	}
	if a := apprise.Opt(u, "auth"); a != "" {
		c.auth = apprise.Unquote(strings.ToLower(a))
	}
	if c.auth == "" && c.user != "" && c.password == "" {
		c.auth = "basic"
		if tokenUser.MatchString(c.user) {
			c.auth = "token"
		}
	}
	if c.auth == "token" && c.token == "" {
		if c.user != "" && c.password == "" {
			c.token = c.user
		} else if c.password != "" {
			c.token = c.password
		}
	}
	if c.auth == "" {
		c.auth = "basic"
	}
	if c.auth != "basic" && c.auth != "token" {
		return nil, fmt.Errorf("ntfy: auth=%s is not basic or token", c.auth)
	}

	mode := "cloud"
	if m := apprise.Opt(u, "mode"); m != "" {
		mode = apprise.Unquote(strings.ToLower(m))
	} else if apprise.IsHostname(c.host) && len(targets) > 0 {
		mode = "private"
	}
	switch mode {
	case "cloud":
		c.cloud = true
		if !cloudHost.MatchString(c.host) {
			// ntfy://TOPIC: the "host" is the first topic.
			targets = append([]string{c.host}, targets...)
		}
	case "private":
		if !apprise.IsHostname(c.host) {
			return nil, fmt.Errorf("ntfy: %q is not a host name; use %s", c.host, usage)
		}
	default:
		return nil, fmt.Errorf("ntfy: mode=%s is not cloud or private", mode)
	}
	if !c.cloud && c.auth == "token" && c.token == "" {
		return nil, fmt.Errorf("ntfy: auth=token needs a token: ntfy://tk_TOKEN@HOST/TOPIC or ?token=tk_TOKEN")
	}
	for _, t := range apprise.ParseList(targets...) {
		if topicRE.MatchString(t) {
			c.topics = append(c.topics, t)
		} else {
			c.invalid = append(c.invalid, t)
		}
	}

	c.priority = "default"
	if p := apprise.Opt(u, "priority"); p != "" {
		p = strings.ToLower(apprise.Unquote(p))
		for _, e := range priorities {
			if strings.HasPrefix(p, e[0]) {
				c.priority = e[1]
				break
			}
		}
	}
	if t := apprise.Opt(u, "tags"); t != "" {
		c.tags = apprise.ParseList(apprise.Unquote(t))
	}
	if v := apprise.Opt(u, "click"); v != "" {
		c.click = apprise.Unquote(v)
		if strings.ContainsFunc(c.click, func(r rune) bool { return r > 127 }) {
			c.click = apprise.Quote(c.click, ":/?&=[]")
		}
	}
	if v := apprise.Opt(u, "delay"); v != "" {
		c.delay = apprise.Unquote(v)
	}
	if v := apprise.Opt(u, "email"); v != "" {
		c.email = apprise.Unquote(v)
	}
	if v := apprise.Opt(u, "actions"); v != "" {
		c.actions = apprise.Unquote(v)
	}
	if v := apprise.Opt(u, "attach"); v != "" {
		c.attach = apprise.Unquote(v)
		if f := apprise.Opt(u, "filename"); f != "" {
			f = apprise.Unquote(f)
			c.filename = f[strings.LastIndexByte(f, '/')+1:] // Python's basename
		}
	}
	image := true
	if v, ok := u.Options["image"]; ok {
		image = apprise.ParseBool(strings.TrimSpace(v), false)
	}
	if image {
		c.icon = iconURL
		if v := apprise.Unquote(apprise.Opt(u, "avatar_url")); v != "" {
			c.icon = v
		}
	}
	switch f := strings.ToLower(apprise.Opt(u, "format")); f {
	case "text", "markdown", "html":
		c.format = f
		c.markdown = f == "markdown"
	}
	return c, nil
}

// Validate checks a notifier URL when the configuration loads.
func (ntfy) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	if len(c.topics) == 0 {
		msg := "ntfy: no topic to notify; use " + usage
		if len(c.invalid) > 0 {
			msg = fmt.Sprintf("ntfy: topic %q is not valid (1-64 letters, digits, '_' or '-'); use %s", c.invalid[0], usage)
		}
		return sdk.ValidateResult{Error: msg}
	}
	res := sdk.ValidateResult{OK: true, RedactedURL: c.redacted()}
	if c.cloud {
		res.Hosts = []string{"ntfy.sh"}
	} else {
		res.Hosts = []string{c.host}
	}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

func (c *config) redacted() string {
	scheme := "ntfy"
	if c.secure || c.cloud {
		scheme = "ntfys"
	}
	if c.cloud {
		return scheme + "://" + strings.Join(c.topics, "/")
	}
	auth := ""
	switch {
	case c.auth == "token" && c.token != "":
		auth = "****@"
	case c.user != "" && c.hasPassword:
		auth = c.user + ":****@"
	case c.user != "":
		auth = c.user + "@"
	}
	return scheme + "://" + auth + c.hostPort + "/" + strings.Join(c.topics, "/")
}

// sdkRedact hides a password in a URL that did not parse.
func sdkRedact(raw string) string {
	if u, err := sdk.ParseURL(raw); err == nil {
		return u.Redacted()
	}
	return "…"
}

// Send delivers one message.
func (ntfy) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	if len(c.invalid) > 0 {
		sdk.Logf(sdk.LevelWarn, "ntfy: ignoring invalid topics %q", c.invalid)
	}
	if len(c.topics) == 0 {
		return sdk.FailPermanent("ntfy: there are no ntfy topics to notify")
	}
	var first *sdk.SendResult
	// Apprise pops topics off the end of its sorted list.
	for i := len(c.topics) - 1; i >= 0; i-- {
		topic := c.topics[i]
		if len(req.Attachments) == 0 {
			if res := c.sendText(topic, req.Title, req.Body); !res.OK && first == nil {
				first = &res
			}
			continue
		}
		for n, a := range req.Attachments {
			title, body := "", ""
			if n == 0 {
				title, body = req.Title, req.Body
			}
			id := a.ID
			if res := c.post(topic, title, body, a.Name, &id, nil); !res.OK {
				return res // Apprise stops at the first failed upload
			}
		}
	}
	if first != nil {
		return *first
	}
	return sdk.Sent()
}

// sendText posts the JSON message, or the text as a file when the JSON
// would be over ntfy's limit.
func (c *config) sendText(topic, title, body string) sdk.SendResult {
	payload := apprise.Object{{Key: "topic", Value: topic}}
	if c.attach != "" {
		payload = append(payload, apprise.Member{Key: "attach", Value: c.attach})
		if c.filename != "" {
			payload = append(payload, apprise.Member{Key: "filename", Value: c.filename})
		}
	}
	if title != "" {
		payload = append(payload, apprise.Member{Key: "title", Value: title})
	}
	if body != "" {
		payload = append(payload, apprise.Member{Key: "message", Value: body})
	}
	data := apprise.Dumps(payload)
	if len(data) > jsonLimit {
		text := body
		if title != "" {
			text = title + "\n" + body
		}
		return c.post(topic, "", "", textFileName(text), nil, []byte(text))
	}
	return c.request(topic, "POST", c.base(), append(c.headers(), [2]string{"Content-Type", "application/json"}), data, nil)
}

// textFileName names a message sent as a file. Apprise uses a random UUID
// with ".txt"; a UUID-shaped digest of the text keeps retries and tests
// stable.
func textFileName(text string) string {
	h := sha256.Sum256([]byte(text))
	return fmt.Sprintf("%x-%x-%x-%x-%x.txt", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// post uploads one file (an attachment, or data) to base/topic with the
// raw bytes as the body.
func (c *config) post(topic, title, body, name string, att *uint32, data []byte) sdk.SendResult {
	q := [][2]string{{"filename", name}}
	if title != "" {
		q = append(q, [2]string{"title", title})
	}
	if body != "" {
		q = append(q, [2]string{"message", body})
	}
	url := c.base() + "/" + topic + "?" + apprise.URLEncode(q)
	return c.request(topic, "POST", url, c.headers(), data, att)
}

func (c *config) base() string {
	if c.cloud {
		return cloudURL
	}
	if c.secure {
		return "https://" + c.hostPort
	}
	return "http://" + c.hostPort
}

// headers are the X-* options and credentials shared by every request.
func (c *config) headers() [][2]string {
	var h [][2]string
	if !c.cloud {
		switch {
		case c.auth == "basic" && c.user != "":
			h = append(h, [2]string{"Authorization", apprise.BasicAuth(c.user, apprise.OrNone(c.password, c.hasPassword))})
		case c.auth == "token":
			h = append(h, [2]string{"Authorization", "Bearer " + c.token})
		}
	}
	if c.icon != "" {
		h = append(h, [2]string{"X-Icon", c.icon})
	}
	if c.markdown {
		h = append(h, [2]string{"X-Markdown", "yes"})
	}
	if c.priority != "default" {
		h = append(h, [2]string{"X-Priority", c.priority})
	}
	if c.delay != "" {
		h = append(h, [2]string{"X-Delay", c.delay})
	}
	if c.click != "" {
		h = append(h, [2]string{"X-Click", apprise.Quote(c.click, ":/?@&=#")})
	}
	if c.email != "" {
		h = append(h, [2]string{"X-Email", c.email})
	}
	if len(c.tags) > 0 {
		h = append(h, [2]string{"X-Tags", strings.Join(c.tags, ",")})
	}
	if c.actions != "" {
		h = append(h, [2]string{"X-Actions", c.actions})
	}
	return h
}

func (c *config) request(topic, method, url string, headers [][2]string, body []byte, att *uint32) sdk.SendResult {
	what := "ntfy topic " + topic
	resp, err := sdk.HTTP(sdk.HTTPRequest{Method: method, URL: url, Headers: headers, Body: body, BodyAttachment: att})
	if err != nil {
		return apprise.HostFailure(what, err)
	}
	return apprise.Outcome(resp, fmt.Sprintf("%s: %s", what, errorText(resp)), 200)
}

// errorText is ntfy's own explanation: {"code":40301,"http":403,"error":"forbidden"}.
func errorText(resp *sdk.HTTPResponse) string {
	var e struct {
		Code  int    `json:"code"`
		Error string `json:"error"`
	}
	if json.Unmarshal(resp.Body, &e) == nil && e.Error != "" {
		if e.Code != 0 {
			return fmt.Sprintf("%s (HTTP %d, code %d)", e.Error, resp.Status, e.Code)
		}
		return fmt.Sprintf("%s (HTTP %d)", e.Error, resp.Status)
	}
	if s := apprise.Snippet(resp.Body); s != "" {
		return fmt.Sprintf("HTTP %d: %s", resp.Status, s)
	}
	return fmt.Sprintf("HTTP %d", resp.Status)
}
