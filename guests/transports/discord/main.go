// Command discord posts notifications to a Discord webhook, as Apprise
// 1.9.8's discord:// plugin does.
//
// URLs: discord://WEBHOOK_ID/WEBHOOK_TOKEN, discord://BOTNAME@WEBHOOK_ID/WEBHOOK_TOKEN,
// or the webhook URL Discord shows, https://discord.com/api/webhooks/ID/TOKEN
// (discordapp.com too).
//
// Options: tts, avatar (default yes: Apprise's icon as the avatar),
// avatar_url=, botname=, format=markdown (an embed instead of plain
// content), href=/url= (embed link; url= implies markdown), thread= (post in
// a thread; implies markdown), footer, footer_logo, image (embed
// thumbnail), fields (markdown "#" sections become embed fields, default
// yes), flags=, ping= (mentions).
//
// Attachments follow the message, one multipart POST per file (part
// "file"). A 429 is retried once after Discord's Retry-After when that is
// short, as Apprise retries once; otherwise the host retries later.
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const (
	webhookURL = "https://discord.com/api/webhooks"
	appID      = "Apprise"
	appDesc    = "Apprise Notifications"
	appURL     = "https://github.com/caronc/apprise"
	assetsURL  = "https://github.com/caronc/apprise/raw/master/apprise/assets/themes/default/"
	maxFields  = 10
	// maxInlineWait is the longest 429 back-off waited for inside one
	// delivery; longer ones are handed to the host's retry.
	maxInlineWait = 5 * time.Second
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:    "discord",
		Version: "1.0.0",
		Schemes: []string{"discord"},
		NativeURLs: []string{
			"https://discord.com/api/webhooks/", "https://discordapp.com/api/webhooks/",
			"http://discord.com/api/webhooks/", "http://discordapp.com/api/webhooks/",
		},
		Hosts:       []string{"discord.com"},
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  2000,
		Attachments: "any",
	}, discord{})
}

func main() {}

type discord struct{}

type config struct {
	id, token  string
	user       string
	tts        bool
	avatar     bool
	avatarURL  string
	footer     bool
	footerLogo bool
	image      bool
	fields     bool
	href       string
	thread     string
	flags      int
	ping       []string
	format     string // text, markdown or html ("" when the URL sets none)
}

var nativeRE = regexp.MustCompile(`(?i)^https?://discord(app)?\.com/api/webhooks/([0-9]+)/([A-Z0-9_-]+)/?(\?.+)?$`)

const usage = "discord://WEBHOOK_ID/WEBHOOK_TOKEN or https://discord.com/api/webhooks/WEBHOOK_ID/WEBHOOK_TOKEN"

// parse reads a discord:// or native webhook URL as Apprise does.
func parse(raw string) (*config, error) {
	if m := nativeRE.FindStringSubmatch(raw); m != nil {
		raw = "discord://" + m[2] + "/" + m[3] + "/" + m[4]
	} else if strings.HasPrefix(strings.ToLower(raw), "http") {
		return nil, fmt.Errorf("not a Discord webhook URL: want %s", usage)
	}
	u, err := apprise.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("discord:// URL does not parse: %v", err)
	}
	c := &config{id: strings.TrimSpace(u.Host), user: u.User}
	if len(u.Path) > 0 {
		c.token = strings.TrimSpace(u.Path[0])
	}
	if c.id == "" || c.token == "" || strings.ContainsAny(u.Host[:1], " \t\r\n") || strings.ContainsAny(u.Path[0][:1], " \t\r\n") {
		return nil, fmt.Errorf("discord:// needs the webhook id and token: %s", usage)
	}
	c.tts = apprise.OptBool(u, "tts", false)
	c.fields = apprise.OptBool(u, "fields", true)
	c.footer = apprise.OptBool(u, "footer", false)
	c.footerLogo = apprise.OptBool(u, "footer_logo", true)
	c.avatar = apprise.OptBool(u, "avatar", true)
	c.image = apprise.OptBool(u, "image", false)
	if v, ok := u.Options["botname"]; ok {
		c.user = v
	}
	if v, ok := u.Options["flags"]; ok && v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("discord:// flags=%s is not a number of 0 or more", v)
		}
		c.flags = n
	}
	c.avatarURL = u.Options["avatar_url"]
	if f := strings.ToLower(u.Option("format", "")); f == "text" || f == "markdown" || f == "html" {
		c.format = f
	}
	if v, ok := u.Options["href"]; ok {
		c.href = v
	} else if v, ok := u.Options["url"]; ok {
		c.href, c.format = v, "markdown"
	}
	if v, ok := u.Options["thread"]; ok {
		c.thread, c.format = v, "markdown"
	}
	if v := u.Option("ping", ""); v != "" {
		c.ping = apprise.ParseList(v)
	}
	return c, nil
}

// Validate implements sdk.Validator.
func (discord) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	red := "discord://"
	if c.user != "" {
		red += url.PathEscape(c.user) + "@"
	}
	red += c.id + "/****"
	opts := map[string]string{"tts": yesNo(c.tts), "avatar": yesNo(c.avatar), "fields": yesNo(c.fields), "footer": yesNo(c.footer)}
	if c.format != "" {
		opts["format"] = c.format
	}
	if c.thread != "" {
		opts["thread"] = c.thread
	}
	return sdk.ValidateResult{OK: true, Hosts: []string{"discord.com"}, RedactedURL: red, Options: opts}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

var colors = map[string]int{"info": 0x3AA3E3, "success": 0x3AA337, "failure": 0xA32037, "warning": 0xCACF29}

// Send implements sdk.Transport.
func (discord) Send(req *sdk.SendRequest) sdk.SendResult {
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
		color = 0x888888
	}
	imageURL := assetsURL + "apprise-" + ntype + "-256x256.png"
	title, body := req.Title, req.Body
	markdown := c.format == "markdown"

	payload := apprise.Obj("tts", c.tts, "wait", !c.tts)
	if c.flags != 0 {
		payload.Set("flags", c.flags)
	}
	if c.avatar {
		if c.avatarURL != "" {
			payload.Set("avatar_url", c.avatarURL)
		} else {
			payload.Set("avatar_url", imageURL)
		}
	}
	if c.user != "" {
		payload.Set("username", c.user)
	}
	query := ""
	if c.thread != "" {
		query = "?" + url.Values{"thread_id": {c.thread}}.Encode()
	}
	switch {
	case markdown && len(c.ping) > 0:
		pingPayload(payload, body, strings.Join(c.ping, " "))
	case markdown:
		pingPayload(payload, body)
	case len(c.ping) > 0:
		pingPayload(payload, strings.Join(c.ping, " "))
	}

	if body != "" {
		var fields []any
		var embed *apprise.Object
		if markdown {
			embed = apprise.Obj("author", apprise.Obj("name", appID, "url", appURL), "title", title, "description", body, "color", color)
			if c.href != "" {
				embed.Set("url", c.href)
			}
			if c.footer {
				f := apprise.Obj("text", appDesc)
				if c.footerLogo {
					f.Set("icon_url", assetsURL+"apprise-logo.png")
				}
				embed.Set("footer", f)
			}
			if c.image {
				embed.Set("thumbnail", apprise.Obj("url", imageURL, "height", 256, "width", 256))
			}
			payload.Set("embeds", []any{embed})
			if c.fields {
				var desc string
				desc, fields = markdownSections(body)
				embed.Set("description", desc)
				if len(fields) > 0 {
					n := min(len(fields), maxFields)
					embed.Set("fields", fields[:n])
					fields = fields[n:]
				}
			}
		} else {
			content := body
			if title != "" {
				content = title + "\r\n" + body
			}
			if prev, ok := payload.Get("content"); ok {
				content += prev.(string)
			}
			payload.Set("content", content)
		}
		if r := post(c, query, apprise.Dumps(payload), "", req.DeadlineMS); !r.OK {
			return r
		}
		// Sections beyond the first ten go in further messages, without
		// the thread (as in Apprise).
		if len(fields) > 0 {
			embed.Set("description", "")
			for i := 0; i < len(fields); i += maxFields {
				embed.Set("fields", fields[i:min(i+maxFields, len(fields))])
				if r := post(c, "", apprise.Dumps(payload), "", req.DeadlineMS); !r.OK {
					return r
				}
			}
		}
	}

	if len(req.Attachments) > 0 {
		payload.Set("tts", false)
		payload.Set("wait", true)
		payload.Del("embeds")
		payload.Del("content")
		payload.Del("allow_mentions")
		for i := range req.Attachments {
			a := &req.Attachments[i]
			var form []apprise.FormPart
			for _, e := range *payload {
				form = append(form, apprise.FormPart{Name: e.Key, Value: apprise.PyStr(e.Value)})
			}
			form = append(form, apprise.FormPart{Name: "file", Filename: a.Name, Attachment: a})
			b, ctype, err := apprise.Multipart(form)
			if err != nil {
				return sdk.Fail(fmt.Sprintf("discord: read attachment %s: %v", a.Name, err))
			}
			if r := post(c, query, b, ctype, req.DeadlineMS); !r.OK {
				r.Error += " (attachment " + a.Name + ")"
				return r
			}
		}
	}
	return sdk.Sent()
}

// post sends one webhook request (JSON when ctype is empty), retrying once
// on 429 when the wait is short. Success is 200 or 204.
func post(c *config, query string, body []byte, ctype string, deadlineMS int64) sdk.SendResult {
	headers := [][2]string{{"Content-Type", ctype}}
	if ctype == "" {
		headers[0][1] = "application/json; charset=utf-8"
	}
	for attempt := 0; ; attempt++ {
		resp, err := sdk.HTTP(sdk.HTTPRequest{
			Method:  "POST",
			URL:     webhookURL + "/" + c.id + "/" + c.token + query,
			Headers: headers,
			Body:    body,
		})
		if err != nil {
			return apprise.HostFailure("discord", err)
		}
		if resp.Status == 200 || resp.Status == 204 {
			return sdk.Sent()
		}
		wait := rateLimitWait(resp)
		if resp.Status == 429 && attempt == 0 && wait <= maxInlineWait && (deadlineMS == 0 || wait < time.Duration(deadlineMS)*time.Millisecond/3) {
			time.Sleep(wait)
			continue
		}
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(resp.Body, &e)
		msg := e.Message
		if msg == "" {
			msg = strings.TrimSpace(string(resp.Body))
			if len(msg) > 200 {
				msg = msg[:200]
			}
		}
		msg = fmt.Sprintf("discord: HTTP %d: %s", resp.Status, msg)
		if resp.Status >= 200 && resp.Status < 300 {
			return sdk.Fail(msg)
		}
		return sdk.ResultForStatus(resp.Status, wait, msg)
	}
}

// rateLimitWait reads Discord's back-off: X-RateLimit-Reset-After, else
// Retry-After, else the JSON retry_after (seconds, possibly fractional).
func rateLimitWait(resp *sdk.HTTPResponse) time.Duration {
	for _, h := range []string{"x-ratelimit-reset-after", "retry-after"} {
		if f, err := strconv.ParseFloat(strings.TrimSpace(resp.Headers[h]), 64); err == nil && f >= 0 {
			return time.Duration(f * float64(time.Second))
		}
	}
	var e struct {
		RetryAfter float64 `json:"retry_after"`
	}
	if json.Unmarshal(resp.Body, &e) == nil && e.RetryAfter > 0 {
		return time.Duration(e.RetryAfter * float64(time.Second))
	}
	return 0
}

var mentionRE = regexp.MustCompile(`(?i)\s*(?:<?@(&?)([0-9]+)>?|@([a-z0-9]+))`)

// pingPayload adds allow_mentions and a "👉 …" content for the user, role
// and @everyone-style mentions found in texts, as Apprise's ping_payload.
func pingPayload(payload *apprise.Object, texts ...string) {
	var parse, users, roles []string
	add := func(list *[]string, v string) {
		for _, e := range *list {
			if e == v {
				return
			}
		}
		*list = append(*list, v)
	}
	for _, t := range texts {
		for _, m := range mentionRE.FindAllStringSubmatch(t, -1) {
			switch {
			case m[3] != "":
				add(&parse, m[3])
			case m[1] != "":
				add(&roles, m[2])
			default:
				add(&users, m[2])
			}
		}
	}
	if len(parse)+len(users)+len(roles) == 0 {
		return
	}
	toAny := func(l []string) []any {
		out := []any{}
		for _, e := range l {
			out = append(out, e)
		}
		return out
	}
	payload.Set("allow_mentions", apprise.Obj("parse", toAny(parse), "users", toAny(users), "roles", toAny(roles)))
	var tokens []string
	for _, v := range parse {
		tokens = append(tokens, "@"+v)
	}
	for _, v := range roles {
		tokens = append(tokens, "<@&"+v+">")
	}
	for _, v := range users {
		tokens = append(tokens, "<@"+v+">")
	}
	payload.Set("content", "👉 "+strings.Join(tokens, " "))
}

// isSpace is Python's str.isspace for one character (what \s matches).
func isSpace(r rune) bool {
	switch {
	case r >= '\t' && r <= '\r', r >= 0x1c && r <= ' ', r == 0x85, r == 0xa0, r == 0x1680,
		r >= 0x2000 && r <= 0x200a, r == 0x2028, r == 0x2029, r == 0x202f, r == 0x205f, r == 0x3000:
		return true
	}
	return false
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isSpace(r) {
			break
		}
		i += n
	}
	return i
}

func nextRune(s string, i int) int {
	_, n := utf8.DecodeRuneInString(s[i:])
	return i + n
}

// sectionEnd reports whether the lookahead (?=\s*$|[\r\n]+\s*#) holds at i.
func sectionEnd(s string, i int) bool {
	k := skipSpace(s, i)
	if k == len(s) {
		return true
	}
	return (s[i] == '\r' || s[i] == '\n') && s[k] == '#'
}

func pyStrip(s string) string { return strings.TrimFunc(s, isSpace) }

// markdownSections splits a markdown body into the text before the first
// "#" heading and one embed field per heading, as Apprise's
// extract_markdown_sections (whose regular expressions need look-ahead,
// so they are spelled out here).
func markdownSections(md string) (string, []any) {
	desc := ""
	if i := skipSpace(md, 0); i < len(md) && md[i] != '#' {
		j := i
		for j < len(md) {
			r, n := utf8.DecodeRuneInString(md[j:])
			if isSpace(r) || r == '#' {
				break
			}
			j += n
		}
		for !sectionEnd(md, j) {
			j = nextRune(md, j)
		}
		desc = pyStrip(md[i:j])
		if desc != "" {
			md = strings.Replace(md, desc, "", 1)
		}
	}
	var fields []any
	pos := 0
	for pos < len(md) {
		found := false
		for i := pos; i < len(md); i = nextRune(md, i) {
			k := skipSpace(md, i)
			if k >= len(md) || md[k] != '#' {
				continue
			}
			k++
			j := k
			for j < len(md) && strings.IndexByte("# \t\v", md[j]) >= 0 {
				j++
			}
			nameStart := j
			if j == len(md) || md[j] == '\n' {
				if j == k {
					continue // "#" alone on its line: no name
				}
				nameStart = j - 1
			}
			e := strings.IndexByte(md[nameStart:], '\n')
			if e < 0 {
				e = len(md)
			} else {
				e += nameStart
			}
			name := md[nameStart:e]
			if e < len(md) {
				e++
			}
			v := skipSpace(md, e)
			end, value := v, ""
			if v < len(md) && md[v] != '#' {
				p := nextRune(md, v)
				if p < len(md) {
					p = nextRune(md, p)
					for !sectionEnd(md, p) {
						p = nextRune(md, p)
					}
					value, end = md[v:p], p
				}
			}
			f := apprise.Obj("name", strings.Trim(name, "#`* \r\n\t\v"), "value", "```\n```")
			if value != "" {
				f.Set("value", "```md\n"+pyStrip(value)+"\n```")
			}
			fields = append(fields, f)
			pos, found = end, true
			break
		}
		if !found {
			break
		}
	}
	return desc, fields
}
