// Command workflow posts notifications to a Microsoft Teams channel through
// a Power Automate (Workflows) webhook, as Apprise 1.9.8's workflow://
// plugin does. It replaces msteams://, whose Office 365 connectors Microsoft
// shut down.
//
// URLs: workflow://HOST[:PORT]/WORKFLOW_ID/SIGNATURE (workflows:// is the
// same; both use https), or the webhook URL Teams shows,
// https://HOST/workflows/ID/triggers/manual/paths/invoke?api-version=…&sig=…
// (also …/powerautomate/automations/direct/workflows/…).
//
// Options: id=/workflow=, sig=/signature=, pa=yes (the
// /powerautomate/automations/direct path and API version
// 2022-03-01-preview), ver=/api-version=, image (Apprise's icon in the card,
// default yes), wrap (wrap the text, default yes). template= (a custom card
// file) is not supported.
//
// The message goes as an Adaptive Card 1.4: an optional icon, the title as a
// heading and the body (markdown) as a text block.
package main

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const assetsURL = "https://github.com/caronc/apprise/raw/master/apprise/assets/themes/default/"

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "workflow",
		Version:     "1.0.0",
		Schemes:     []string{"workflow", "workflows"},
		UserHost:    true,
		Format:      "markdown",
		TitleMaxLen: 250,
		BodyMaxLen:  1000,
		Attachments: "none",
	}, workflow{})
}

func main() {}

type workflow struct{}

type config struct {
	host          string
	port          int
	id, signature string
	powerAutomate bool
	version       string
	image, wrap   bool
	format        string
}

var (
	nativeRE = regexp.MustCompile(`(?i)^https?://([A-Z0-9_.-]+)(:[1-9][0-9]{0,5})?(/powerautomate/automations/direct)?/workflows/([A-Z0-9_-]+)/triggers/manual/paths/invoke/?(\?.+)$`)
	idRE     = regexp.MustCompile(`(?i)^[A-Z0-9_-]+$`)
)

const usage = "workflow://HOST/WORKFLOW_ID/SIGNATURE or the https://…/workflows/…/triggers/manual/paths/invoke?…&sig=… URL from Teams"

// parse reads a workflow:// or native webhook URL as Apprise does.
func parse(raw string) (*config, error) {
	if m := nativeRE.FindStringSubmatch(raw); m != nil {
		raw = "workflow://" + m[1] + m[2] + "/" + m[4] + "/" + m[5]
		if m[3] != "" {
			raw += "&pa=yes"
		}
	} else if strings.HasPrefix(strings.ToLower(raw), "http") {
		return nil, fmt.Errorf("not a Power Automate workflow URL: want %s", usage)
	}
	u, err := apprise.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("workflow:// URL does not parse: %v", err)
	}
	if !apprise.IsHostname(u.Host) {
		return nil, fmt.Errorf("workflow:// needs the host of the workflow URL: %s", usage)
	}
	c := &config{host: strings.TrimSuffix(u.Host, "."), port: u.Port}
	var entries []string
	for _, p := range u.Path {
		for _, s := range strings.Split(p, "/") {
			if s != "" {
				entries = append(entries, s)
			}
		}
	}
	pop := func() string {
		if len(entries) == 0 {
			return ""
		}
		s := entries[0]
		entries = entries[1:]
		return s
	}
	first := func(names ...string) string {
		for _, n := range names {
			if v := u.Options[n]; v != "" {
				return v
			}
		}
		return ""
	}
	if c.id = first("workflow", "id"); c.id == "" {
		c.id = pop()
	}
	if c.signature = first("signature", "sig"); c.signature == "" {
		c.signature = pop()
	}
	if !idRE.MatchString(c.id) {
		return nil, fmt.Errorf("workflow:// workflow id is missing or invalid: %s", usage)
	}
	if !idRE.MatchString(c.signature) {
		return nil, fmt.Errorf("workflow:// signature (sig=…) is missing or invalid: %s", usage)
	}
	if u.Option("template", "") != "" {
		return nil, fmt.Errorf("workflow:// template= (a custom card file) is not supported; remove it to send Apprise's standard card")
	}
	c.image = apprise.OptBool(u, "image", true)
	c.wrap = apprise.OptBool(u, "wrap", true)
	pa, ok := u.Options["powerautomate"]
	if !ok {
		pa, ok = u.Options["pa"]
	}
	c.powerAutomate = ok && apprise.ParseBool(pa, false)
	c.version = "2016-06-01"
	if c.powerAutomate {
		c.version = "2022-03-01-preview"
	}
	if v := first("api-version", "ver"); v != "" {
		c.version = v
	}
	if f := strings.ToLower(u.Option("format", "")); f == "text" || f == "markdown" || f == "html" {
		c.format = f
	}
	return c, nil
}

// hostPort is the request's host; :443 is left out as Python's http.client
// leaves it out of the Host header.
func (c *config) hostPort() string {
	if c.port != 0 && c.port != 443 {
		return c.host + ":" + strconv.Itoa(c.port)
	}
	return c.host
}

// Validate implements sdk.Validator.
func (workflow) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	opts := map[string]string{"image": yesNo(c.image), "wrap": yesNo(c.wrap), "pa": yesNo(c.powerAutomate), "ver": c.version}
	if c.format != "" {
		opts["format"] = c.format
	}
	return sdk.ValidateResult{OK: true, Hosts: []string{c.host}, RedactedURL: "workflow://" + c.hostPort() + "/****/****", Options: opts}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Send implements sdk.Transport.
func (workflow) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	ntype := req.NotifyType
	if ntype == "" {
		ntype = "info"
	}
	var body []any
	if c.image {
		body = append(body, apprise.Obj("type", "Image", "url", assetsURL+"apprise-"+ntype+"-32x32.png", "height", "32px", "altText", ntype))
	}
	if req.Title != "" {
		body = append(body, apprise.Obj("type", "TextBlock", "text", req.Title, "style", "heading", "weight", "Bolder", "size", "Large", "id", "title"))
	}
	body = append(body, apprise.Obj("type", "TextBlock", "text", req.Body, "style", "default", "wrap", c.wrap, "id", "body"))
	payload := apprise.Obj("type", "message", "attachments", []any{apprise.Obj(
		"contentType", "application/vnd.microsoft.card.adaptive",
		"contentUrl", nil,
		"content", apprise.Obj(
			"$schema", "http://adaptivecards.io/schemas/adaptive-card.json",
			"type", "AdaptiveCard",
			"version", "1.4",
			"body", body,
			"msteams", apprise.Obj("width", "full"),
		),
	)})

	path := ""
	if c.powerAutomate {
		path = "/powerautomate/automations/direct"
	}
	// The query as requests encodes it (quote_plus).
	query := "api-version=" + url.QueryEscape(c.version) + "&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=" + url.QueryEscape(c.signature)
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method:  "POST",
		URL:     "https://" + c.hostPort() + path + "/workflows/" + c.id + "/triggers/manual/paths/invoke?" + query,
		Headers: [][2]string{{"Content-Type", "application/json"}},
		Body:    apprise.Dumps(payload),
	})
	if err != nil {
		return apprise.HostFailure("workflow", err)
	}
	if resp.Status == 200 || resp.Status == 202 {
		return sdk.Sent()
	}
	text := strings.TrimSpace(string(resp.Body))
	if len(text) > 300 {
		text = text[:300]
	}
	msg := fmt.Sprintf("workflow: HTTP %d: %s", resp.Status, text)
	if resp.Status >= 200 && resp.Status < 300 {
		return sdk.Fail(msg)
	}
	var retry time.Duration
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Headers["retry-after"])); err == nil && s > 0 {
		retry = time.Duration(s) * time.Second
	}
	return sdk.ResultForStatus(resp.Status, retry, msg)
}
