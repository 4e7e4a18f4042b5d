// Command slack posts notifications to a Slack incoming webhook, as Apprise
// 1.9.8's slack:// plugin does in webhook mode.
//
// URLs: slack://TOKEN_A/TOKEN_B/TOKEN_C[/#channel|/@user|/+ID…],
// slack://BOTNAME@TOKEN_A/TOKEN_B/TOKEN_C/…, or the webhook URL Slack shows,
// https://hooks.slack.com/services/A/B/C (hooks.slack-gov.com too).
//
// Options: to= (more channels; #channel:THREAD_TS posts in a thread),
// image (icon, default yes), footer (default yes), timestamp (default yes),
// blocks=yes (Block Kit layout), format=, mode=hook|gov-hook, token=.
// Bot tokens (xoxb-/xoxp-, mode=bot) are not supported: Validate says so.
// Webhooks take no attachments, as in Apprise.
//
// The body is markdown; in the classic layout & < > are escaped as Slack
// requires, keeping <!channel>, <@user> and <url|text> links.
package main

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const (
	appID     = "Apprise"
	assetsURL = "https://github.com/caronc/apprise/raw/master/apprise/assets/themes/default/"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:    "slack",
		Version: "1.0.0",
		Schemes: []string{"slack"},
		NativeURLs: []string{
			"https://hooks.slack.com/services/", "https://hooks.slack-gov.com/services/",
			"http://hooks.slack.com/services/", "http://hooks.slack-gov.com/services/",
		},
		Hosts:       []string{"hooks.slack.com", "hooks.slack-gov.com"},
		Format:      "markdown",
		TitleMaxLen: 250,
		BodyMaxLen:  35000,
		Attachments: "none",
	}, slack{})
}

func main() {}

type slack struct{}

type config struct {
	host             string // hooks.slack.com or hooks.slack-gov.com
	a, b, c          string
	user             string
	channels         []string // sorted; empty: the webhook's own channel
	image            bool
	footer           bool
	timestamp        bool
	blocks           bool
	format           string // "" when the URL sets none
	redactedChannels string
}

var (
	nativeRE  = regexp.MustCompile(`(?i)^https?://(hooks\.slack(-gov)?\.com)/services/([A-Z0-9]+)/([A-Z0-9]+)/([A-Z0-9]+)/?(\?.+)?$`)
	tokenRE   = regexp.MustCompile(`(?i)^[A-Z0-9]+$`)
	delimRE   = regexp.MustCompile(`[ \t\r\n,#\\/]+`)
	listRE    = regexp.MustCompile(`[\[\];,\s]+`)
	channelRE = regexp.MustCompile(`(?i)^([+#@]?[A-Z0-9_-]{1,32})(:([0-9.]+))?$`)
	emailRE   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	slashRE   = regexp.MustCompile(`/`)
)

const usage = "slack://TOKEN_A/TOKEN_B/TOKEN_C[/#channel] or https://hooks.slack.com/services/TOKEN_A/TOKEN_B/TOKEN_C"

func split(s string, re *regexp.Regexp) []string {
	var out []string
	for _, e := range re.Split(s, -1) {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// parse reads a slack:// or native webhook URL as Apprise does.
func parse(raw string) (*config, error) {
	gov := false
	if m := nativeRE.FindStringSubmatch(raw); m != nil {
		gov = m[2] != ""
		raw = "slack://" + m[3] + "/" + m[4] + "/" + m[5] + "/" + m[6]
	} else if strings.HasPrefix(strings.ToLower(raw), "http") {
		return nil, fmt.Errorf("not a Slack webhook URL: want %s", usage)
	}
	u, err := apprise.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("slack:// URL does not parse: %v", err)
	}
	c := &config{host: "hooks.slack.com", user: u.User}
	var entries []string
	for _, p := range u.Path {
		entries = append(entries, split(p, slashRE)...)
	}
	// The host is the first token (or a bot token); the two next path
	// segments are the other tokens, the rest are channels.
	bot := strings.HasPrefix(u.Host, "xo")
	tokens, targets := []string{u.Host}, entries
	if !bot {
		n := min(2, len(entries))
		tokens, targets = append(tokens, entries[:n]...), entries[n:]
	}
	if t := u.Option("token", ""); t != "" {
		tokens = split(t, delimRE)
		bot = len(tokens) > 0 && strings.HasPrefix(tokens[0], "xo")
	}
	if mode := u.Option("mode", ""); mode != "" {
		switch {
		case strings.HasPrefix("hook", mode):
			bot, gov = false, false
		case strings.HasPrefix("gov-hook", mode):
			bot, gov = false, true
		case strings.HasPrefix("bot", mode):
			bot = true
		default:
			return nil, fmt.Errorf("slack:// mode=%s is not hook or gov-hook", mode)
		}
	}
	if bot {
		return nil, fmt.Errorf("slack:// bot tokens (xoxb-…/xoxp-…) are not supported; create an incoming webhook in Slack and use %s", usage)
	}
	if gov {
		c.host = "hooks.slack-gov.com"
	}
	for len(tokens) < 3 {
		tokens = append(tokens, "")
	}
	c.a, c.b, c.c = tokens[0], tokens[1], tokens[2]
	for i, t := range []string{c.a, c.b, c.c} {
		if !tokenRE.MatchString(t) {
			return nil, fmt.Errorf("slack:// webhook token %d of 3 is missing or invalid (letters and digits only): %s", i+1, usage)
		}
	}
	if to := u.Option("to", ""); to != "" {
		targets = append(targets, split(to, delimRE)...)
	}
	c.redactedChannels = strings.Join(targets, "/")
	seen := map[string]bool{}
	for _, t := range targets {
		for _, e := range split(t, listRE) {
			if !seen[e] {
				seen[e] = true
				c.channels = append(c.channels, e)
			}
		}
	}
	sort.Strings(c.channels)
	for _, ch := range c.channels {
		if emailRE.MatchString(ch) {
			return nil, fmt.Errorf("slack:// target %q: Slack webhooks cannot look users up by e-mail; use @user or the channel name", ch)
		}
		if !channelRE.MatchString(ch) {
			return nil, fmt.Errorf("slack:// target %q is not a channel (#name), user (@name) or encoded id (+ID)", ch)
		}
	}
	c.image = apprise.OptBool(u, "image", true)
	c.timestamp = apprise.OptBool(u, "timestamp", true)
	c.footer = apprise.OptBool(u, "footer", true)
	if v := u.Option("blocks", ""); v != "" {
		c.blocks = apprise.ParseBool(v, false)
	}
	if f := strings.ToLower(u.Option("format", "")); f == "text" || f == "markdown" || f == "html" {
		c.format = f
	}
	return c, nil
}

// Validate implements sdk.Validator.
func (slack) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	red := "slack://"
	if c.user != "" {
		red += url.PathEscape(c.user) + "@"
	}
	red += c.a + "/****/****"
	if c.redactedChannels != "" {
		red += "/" + c.redactedChannels
	}
	opts := map[string]string{"image": yesNo(c.image), "footer": yesNo(c.footer), "timestamp": yesNo(c.timestamp), "blocks": yesNo(c.blocks)}
	if c.format != "" {
		opts["format"] = c.format
	}
	return sdk.ValidateResult{OK: true, Hosts: []string{c.host}, RedactedURL: red, Options: opts}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var colors = map[string]string{"info": "#3AA3E3", "success": "#3AA337", "failure": "#A32037", "warning": "#CACF29"}

// Send implements sdk.Transport.
func (slack) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	ntype := req.NotifyType
	if ntype == "" {
		ntype = "info"
	}
	color, ok := colors[ntype]
	if !ok {
		color = "#888888"
	}
	imageURL := ""
	if c.image {
		imageURL = assetsURL + "apprise-" + ntype + "-72x72.png"
	}
	markdown := c.format == "" || c.format == "markdown"
	username := c.user
	if username == "" {
		username = appID
	}
	title, body := req.Title, req.Body

	var payload *apprise.Object
	if c.blocks {
		kind := "plain_text"
		if markdown {
			kind = "mrkdwn"
		}
		blocks := []any{apprise.Obj("type", "section", "text", apprise.Obj("type", kind, "text", body))}
		if title != "" {
			blocks = append([]any{apprise.Obj("type", "header", "text", apprise.Obj("type", "plain_text", "text", title, "emoji", true))}, blocks...)
		}
		att := apprise.Obj("blocks", nil, "color", color)
		payload = apprise.Obj("username", username, "attachments", []any{att})
		if c.footer {
			elements := []any{apprise.Obj("type", kind, "text", appID)}
			if imageURL != "" {
				payload.Set("icon_url", imageURL)
				elements = append([]any{apprise.Obj("type", "image", "image_url", imageURL, "alt_text", ntype)}, elements...)
			}
			blocks = append(blocks, apprise.Obj("type", "context", "elements", elements))
		}
		att.Set("blocks", blocks)
	} else {
		if markdown {
			body = slackMarkdown(body)
		}
		att := apprise.Obj("title", escape(title), "text", body, "color", color)
		payload = apprise.Obj("username", username, "mrkdwn", markdown, "attachments", []any{att})
		if imageURL != "" {
			payload.Set("icon_url", imageURL)
		}
		if c.footer {
			if imageURL != "" {
				att.Set("footer_icon", imageURL)
			}
			att.Set("footer", appID)
			if c.timestamp {
				att.Set("ts", pyTime(sdk.Now().UnixNano()))
			}
		}
	}

	hookURL := "https://" + c.host + "/services/" + c.a + "/" + c.b + "/" + c.c
	channels := c.channels
	if len(channels) == 0 {
		channels = []string{""}
	}
	var failed *sdk.SendResult
	for _, ch := range channels {
		if ch != "" {
			m := channelRE.FindStringSubmatch(ch)
			name, ts := m[1], m[3]
			if ts != "" {
				payload.Set("thread_ts", ts)
			} else {
				payload.Del("thread_ts")
			}
			switch name[0] {
			case '+':
				payload.Set("channel", name[1:])
			case '@', '#':
				payload.Set("channel", name)
			default:
				payload.Set("channel", "#"+name)
			}
		}
		r := post(hookURL, apprise.Dumps(payload))
		if !r.OK {
			if ch != "" {
				r.Error += " (channel " + ch + ")"
			}
			if failed == nil {
				failed = &r
			}
		}
	}
	if failed != nil {
		return *failed
	}
	return sdk.Sent()
}

// post sends one webhook request; Slack answers 200 with the body "ok".
func post(hookURL string, body []byte) sdk.SendResult {
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method: "POST",
		URL:    hookURL,
		Headers: [][2]string{
			{"Accept", "application/json"},
			{"Content-Type", "application/json; charset=utf-8"},
		},
		Body: body,
	})
	if err != nil {
		return apprise.HostFailure("slack", err)
	}
	if resp.Status == 200 && string(resp.Body) == "ok" {
		return sdk.Sent()
	}
	text := strings.TrimSpace(string(resp.Body))
	if len(text) > 200 {
		text = text[:200]
	}
	msg := fmt.Sprintf("slack: HTTP %d: %s", resp.Status, text)
	switch {
	case resp.Status >= 200 && resp.Status < 300:
		return sdk.Fail(msg)
	case resp.Status == 410: // channel_is_archived
		return sdk.FailPermanent(msg)
	}
	var retry time.Duration
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Headers["retry-after"])); err == nil && s > 0 {
		retry = time.Duration(s) * time.Second
	}
	return sdk.ResultForStatus(resp.Status, retry, msg)
}

// pyTime writes unix nanoseconds as Python's repr(time.time()).
func pyTime(ns int64) apprise.RawNumber {
	f := float64(ns) / 1e9
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if f == math.Trunc(f) {
		s += ".0"
	}
	return apprise.RawNumber(s)
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func escape(s string) string { return escaper.Replace(s) }

var (
	channelLinkRE = regexp.MustCompile(`(?i)((?:<|&lt;)?[ \t]*!([^| \n]+)(?:[ \t]*\|[ \t]*(?:([^\n]+?)[ \t]*)?(?:>|&gt;)|(?:>|&gt;)))`)
	userLinkRE    = regexp.MustCompile(`(?i)((?:<|&lt;)?[ \t]*@([^| \n]+)(?:[ \t]*\|[ \t]*(?:([^\n]+?)[ \t]*)?(?:>|&gt;)|(?:>|&gt;)))`)
	urlLinkRE     = regexp.MustCompile(`(?i)((?:<|&lt;)?[ \t]*((?:https?|mailto)://[^| \n]+)(?:[ \t]*\|[ \t]*(?:([^\n]+?)[ \t]*)?(?:>|&gt;)|(?:>|&gt;)))`)
)

// slackMarkdown escapes & < > and restores Slack's <!channel>, <@user> and
// <url|text> forms, as Apprise does for the classic layout.
func slackMarkdown(body string) string {
	body = escape(body)
	restore := func(re *regexp.Regexp, format func(v, desc string) string, trimValue bool) {
		for _, m := range re.FindAllStringSubmatch(body, -1) {
			v := m[2]
			if trimValue {
				v = strings.TrimSpace(v)
			} else {
				v = strings.ReplaceAll(v, "&amp;", "&")
			}
			desc := strings.TrimSpace(m[3])
			body = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(m[1])).ReplaceAllLiteralString(body, format(v, desc))
		}
	}
	link := func(prefix string) func(v, desc string) string {
		return func(v, desc string) string {
			if desc != "" {
				return "<" + prefix + v + "|" + desc + ">"
			}
			return "<" + prefix + v + ">"
		}
	}
	restore(channelLinkRE, link("!"), true)
	restore(userLinkRE, link("@"), true)
	restore(urlLinkRE, link(""), false)
	return body
}
