// Command pover delivers notifications to Pushover exactly as Apprise
// 1.9.8's pushover plugin does.
//
// URL forms:
//
//	pover://USER_KEY@APP_TOKEN                 every device of the user
//	pover://USER_KEY@APP_TOKEN/DEVICE[/DEVICE…] those devices (also ?to=)
//
// Options: priority (low|moderate|normal|high|emergency or -2…2, default
// normal), sound (default pushover), url, url_title, retry (≥ 30, default
// 900) and expire (0…10800, default 3600) for emergency messages,
// format=html (html=1) and format=markdown (body as HTML, html=1).
//
// Request: POST https://api.pushover.net/1/messages.json with HTTP basic
// auth (APP_TOKEN, empty password) and the form fields token, user,
// priority, title ("Apprise Notifications" when empty), message, device
// (comma list, or ALL_DEVICES), sound[, url, url_title][, html][, retry,
// expire]. Each attachment goes in its own request, multipart with the file
// in the part "attachment"; only images up to 5 MiB are sent, later
// requests carry the file name as message, an empty title and sound none.
// Only HTTP 200 counts as sent.
package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const (
	apiHost   = "api.pushover.net"
	notifyURL = "https://" + apiHost + "/1/messages.json"
	usage     = "pover://USER_KEY@APP_TOKEN[/DEVICE…]"
	// allDevices is what Apprise sends as device when the URL names none.
	allDevices = "ALL_DEVICES"
	// defaultTitle replaces an empty title, as Apprise's app_desc.
	defaultTitle = "Apprise Notifications"
	// maxImage is Pushover's attachment limit as Apprise 1.9.8 checks it.
	maxImage = 5242880
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "pover",
		Version:     "1.0.0",
		Schemes:     []string{"pover"},
		Hosts:       []string{apiHost},
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  1024,
		Attachments: "images",
	}, pover{})
}

func main() {}

type pover struct{}

var (
	deviceRE = regexp.MustCompile(`(?i)^\s*([a-z0-9_-]{1,25})\s*$`)
	imageRE  = regexp.MustCompile(`(?i)^image/`)
)

// priorities maps the start of a priority option to Pushover's number, in
// the order Apprise tries them.
var priorities = []struct {
	prefix string
	value  int
}{
	{"l", -2}, {"m", -1}, {"n", 0}, {"h", 1}, {"e", 2},
	{"-2", -2}, {"-1", -1}, {"0", 0}, {"1", 1}, {"2", 2},
}

// config is a parsed pover URL.
type config struct {
	userKey, token string
	devices        []string
	dropped        []string // device names Apprise would drop
	priority       int
	sound          string
	url, urlTitle  string
	retry, expire  int
	format         string
}

func parse(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("pover: %v", err)
	}
	if u.Scheme != "pover" {
		return nil, fmt.Errorf("pover: scheme %q is not pover://", u.Scheme)
	}
	c := &config{userKey: strings.TrimSpace(u.User), token: strings.TrimSpace(u.Host), sound: "pushover"}
	if u.Port != 0 {
		c.token += ":" + strconv.Itoa(u.Port)
	}
	if c.token == "" {
		return nil, fmt.Errorf("pover:// needs the application token after the @: %s", usage)
	}
	if c.userKey == "" {
		return nil, fmt.Errorf("pover:// needs your user key before the @: %s", usage)
	}
	targets := apprise.ParseList(append(append([]string(nil), u.Path...), apprise.Opt(u, "to"))...)
	for _, t := range targets {
		if m := deviceRE.FindStringSubmatch(t); m != nil {
			c.devices = append(c.devices, m[1])
		} else {
			c.dropped = append(c.dropped, t)
		}
	}
	if len(targets) > 0 && len(c.devices) == 0 {
		return nil, fmt.Errorf("pover: no valid device in %q: a device name is 1 to 25 letters, digits, '_' or '-'", strings.Join(targets, ", "))
	}
	if p := apprise.Opt(u, "priority"); p != "" {
		p = strings.ToLower(apprise.Unquote(p))
		for _, e := range priorities {
			if strings.HasPrefix(p, e.prefix) {
				c.priority = e.value
				break
			}
		}
	}
	if s := apprise.Opt(u, "sound"); s != "" {
		c.sound = strings.ToLower(apprise.Unquote(s))
	}
	c.url = apprise.Unquote(apprise.Opt(u, "url"))
	c.urlTitle = apprise.Opt(u, "url_title")
	if c.priority == 2 {
		c.retry, c.expire = 900, 3600
		if v, err := strconv.Atoi(apprise.Opt(u, "retry")); err == nil {
			c.retry = v
		}
		if v, err := strconv.Atoi(apprise.Opt(u, "expire")); err == nil {
			c.expire = v
		}
		if c.retry < 30 {
			return nil, fmt.Errorf("pover: retry=%d: Pushover needs at least 30 seconds between emergency retries", c.retry)
		}
		if c.expire < 0 || c.expire > 10800 {
			return nil, fmt.Errorf("pover: expire=%d: Pushover accepts 0 to 10800 seconds", c.expire)
		}
	}
	if c.format, err = apprise.Format(u); err != nil {
		return nil, fmt.Errorf("pover: %v", err)
	}
	return c, nil
}

// Validate checks a notifier URL when the configuration loads.
func (pover) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	red := "pover://****@****"
	for _, d := range c.devices {
		red += "/" + d
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{apiHost}, RedactedURL: red}
	switch c.format {
	case "text", "html":
		res.Options = map[string]string{"format": c.format}
	case "markdown":
		// Apprise turns the markdown body into HTML before sending: ask the
		// host for HTML, which renders markdown input the same way.
		res.Options = map[string]string{"format": "html"}
	}
	return res
}

// Send delivers one message, one request per attachment.
func (pover) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	asHTML := c.format == "html" || c.format == "markdown"
	body := req.Body
	if asHTML && req.BodyFormat == "text" {
		// The host sent plain text: escape it as Apprise's text→html does.
		body = textToHTML(body)
	}
	title := req.Title
	if title == "" {
		title = defaultTitle
	}
	device := allDevices
	if len(c.devices) > 0 {
		device = strings.Join(c.devices, ",")
	}
	p := &payload{title: title, message: body, sound: c.sound}
	fields := func() [][2]string {
		f := [][2]string{
			{"token", c.token}, {"user", c.userKey}, {"priority", strconv.Itoa(c.priority)},
			{"title", p.title}, {"message", p.message}, {"device", device}, {"sound", p.sound},
		}
		if c.url != "" {
			f = append(f, [2]string{"url", c.url})
		}
		if c.urlTitle != "" {
			f = append(f, [2]string{"url_title", c.urlTitle})
		}
		if asHTML {
			f = append(f, [2]string{"html", "1"})
		}
		if c.priority == 2 {
			f = append(f, [2]string{"retry", strconv.Itoa(c.retry)}, [2]string{"expire", strconv.Itoa(c.expire)})
		}
		return f
	}
	var notes []string
	if len(c.dropped) > 0 {
		notes = append(notes, "skipped invalid device "+strings.Join(c.dropped, ", "))
	}
	if len(req.Attachments) == 0 {
		if r := post(c, fields(), nil); !r.OK {
			return r
		}
		return withInfo(sdk.Sent(), notes)
	}
	for i, a := range req.Attachments {
		if i > 0 || req.Body == "" {
			p.message = a.Name
		}
		var file *sdk.AttachmentInfo
		if imageRE.MatchString(a.MIME) {
			if a.Size <= 0 || a.Size > maxImage {
				return sdk.FailPermanent(fmt.Sprintf("pover: attachment %s is %d bytes; Pushover takes images of 1 byte to 5 MiB", a.Name, a.Size))
			}
			file = &req.Attachments[i]
		} else {
			// Apprise sends the message without the file.
			notes = append(notes, fmt.Sprintf("%s not attached: it is %s and Pushover accepts only images", a.Name, mimeOr(a.MIME)))
		}
		if r := post(c, fields(), file); !r.OK {
			return withInfo(r, notes)
		}
		p.title, p.sound = "", "none"
	}
	return withInfo(sdk.Sent(), notes)
}

// payload holds the fields that change between attachment requests.
type payload struct{ title, message, sound string }

// post sends one request: form-encoded, or multipart with the image in the
// part "attachment".
func post(c *config, fields [][2]string, file *sdk.AttachmentInfo) sdk.SendResult {
	hreq := sdk.HTTPRequest{Method: "POST", URL: notifyURL, Headers: [][2]string{{"Authorization", apprise.BasicAuth(c.token, "")}}}
	if file == nil {
		hreq.Headers = append(hreq.Headers, [2]string{"Content-Type", "application/x-www-form-urlencoded"})
		hreq.Body = []byte(apprise.URLEncode(fields))
	} else {
		parts := make([]apprise.FormPart, 0, len(fields)+1)
		for _, f := range fields {
			parts = append(parts, apprise.FormPart{Name: f[0], Value: f[1]})
		}
		parts = append(parts, apprise.FormPart{Name: "attachment", Filename: file.Name, Attachment: file})
		body, ctype, err := apprise.Multipart(parts)
		if err != nil {
			return sdk.Fail("pover: " + err.Error())
		}
		hreq.Headers = append(hreq.Headers, [2]string{"Content-Type", ctype})
		hreq.Body = body
	}
	resp, err := sdk.HTTP(hreq)
	if err != nil {
		return apprise.HostFailure("pover", err)
	}
	return result(resp)
}

// answer is Pushover's JSON reply:
// {"status":1,"request":"…"} or {"user":"invalid","errors":["…"],"status":0,"request":"…"}.
type answer struct {
	Status *int     `json:"status"`
	Errors []string `json:"errors"`
}

// result maps Pushover's reply: HTTP 200 is sent (as in Apprise) unless
// the JSON says status 0.
func result(resp *sdk.HTTPResponse) sdk.SendResult {
	var a answer
	_ = json.Unmarshal(resp.Body, &a)
	detail := strings.Join(a.Errors, "; ")
	if detail == "" && resp.Status == 401 {
		detail = "Unauthorized - Invalid Token."
	}
	if resp.Status == 200 && a.Status != nil && *a.Status != 1 {
		return sdk.FailPermanent("pover: " + apprise.HTTPText(resp, detail))
	}
	return apprise.Outcome(resp, "pover: "+apprise.HTTPText(resp, detail), 200)
}

func withInfo(r sdk.SendResult, notes []string) sdk.SendResult {
	r.Info = strings.Join(notes, "; ")
	return r
}

func mimeOr(m string) string {
	if m == "" {
		return "of unknown type"
	}
	return m
}

// textToHTML escapes text and keeps its layout, as Apprise's
// escape_html(convert_new_lines=True) does (a '\r' stays as it is).
var textToHTML = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;",
	"\t", "&emsp;", " ", "&nbsp;", "\n", "<br/>",
).Replace
