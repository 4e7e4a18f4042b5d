// Command tgram delivers notifications through the Telegram Bot API, as
// Apprise 1.9.8's tgram:// plugin does.
//
// URL: tgram://BOT_TOKEN/CHAT_ID[/CHAT_ID…][?options]
//
// BOT_TOKEN is what @BotFather gives (123456789:ABCdef…, a leading "bot" is
// tolerated). A chat is a numeric id (negative for groups), @channelname or
// name, optionally with :TOPIC. Options: to= (more chats), topic=/thread=
// (message_thread_id), silent=yes, preview=yes, format=markdown with
// mdv=v1|v2, content=before|after (text before or after attachments),
// detect=yes|no (without a chat id, message the first user who wrote to the
// bot, found with getUpdates and remembered).
//
// The body arrives as HTML (the host converts it and merges the title as
// <b>TITLE</b>); tags Telegram does not support are rewritten as Apprise
// does. Attachments go one per request to sendPhoto, sendDocument, … by MIME
// type; a body shorter than 1024 characters becomes the first file's
// caption instead of a separate message.
package main

import (
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const apiURL = "https://api.telegram.org/bot"

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:         "tgram",
		Version:      "1.0.0",
		Schemes:      []string{"tgram"},
		Hosts:        []string{"api.telegram.org"},
		Format:       "html",
		NoTitle:      true,
		BodyMaxLen:   4096,
		Attachments:  "any",
		Capabilities: []string{"http", "kv"},
	}, tgram{})
}

func main() {}

type tgram struct{}

// target is one chat: chatID is an apprise.RawNumber (numeric id) or "@name".
type target struct {
	chatID any
	topic  int
}

func (t target) String() string {
	s := apprise.PyStr(t.chatID)
	if t.topic != 0 {
		s += ":" + strconv.Itoa(t.topic)
	}
	return s
}

type config struct {
	token    string // 123456789:ABC…
	tokenID  string // the apprise.FormPart before the colon, safe to show
	rawChats []string
	targets  []target
	detect   bool
	silent   bool
	preview  bool
	topic    int
	format   string // "" (html), text, markdown or html
	mdv      string // MARKDOWN or MarkdownV2
	content  string // before or after
}

var (
	tgramRE  = regexp.MustCompile(`(?i)^tgram://(bot)?(([a-z0-9_-]+)(:[a-z0-9_-]+)?@)?([0-9]+)(:|%3A)+(.*)$`)
	tokenBRE = regexp.MustCompile(`(?i)^[a-z0-9_-]+$`)
	chatRE   = regexp.MustCompile(`(?i)^((-?[0-9]{1,32})|(@|%40)?([a-z_-][a-z0-9_-]+))((:|%3A)([0-9]+))?$`)
	listRE   = regexp.MustCompile(`[\[\];,\s]+`)
)

const usage = "tgram://BOT_TOKEN/CHAT_ID"

// parse reads a tgram:// URL as Apprise's NotifyTelegram.parse_url and
// constructor do.
func parse(raw string) (*config, error) {
	m := tgramRE.FindStringSubmatch(raw)
	if m == nil {
		return nil, fmt.Errorf("tgram:// needs a bot token (123456789:ABC… from @BotFather) and a chat id: %s", usage)
	}
	u, err := apprise.ParseURL("tgram://" + m[5] + "/" + m[7])
	if err != nil {
		return nil, fmt.Errorf("tgram:// URL does not parse: %v", err)
	}
	var entries []string
	for _, p := range u.Path {
		for _, s := range strings.Split(p, "/") {
			if s != "" {
				entries = append(entries, s)
			}
		}
	}
	if len(entries) == 0 || !tokenBRE.MatchString(entries[0]) {
		return nil, fmt.Errorf("tgram:// bot token is incomplete: it looks like 123456789:ABCdef… (%s)", usage)
	}
	c := &config{token: m[5] + ":" + entries[0], tokenID: m[5], content: "before", mdv: "MARKDOWN"}
	c.rawChats = entries[1:]
	if to := u.Option("to", ""); to != "" {
		c.rawChats = append(c.rawChats, to)
	}
	if v := u.Option("content", ""); v != "" {
		c.content = strings.ToLower(v)
		if c.content != "before" && c.content != "after" {
			return nil, fmt.Errorf("tgram:// content=%s is not before or after", v)
		}
	}
	if v, ok := u.Options["mdv"]; ok && v != "" {
		l := strings.ToLower(v)
		switch {
		case strings.HasPrefix(l, "v1"), strings.HasPrefix(l, "1"):
		case strings.HasPrefix(l, "v2"), strings.HasPrefix(l, "2"), strings.HasPrefix(l, "default"):
			c.mdv = "MarkdownV2"
		}
	}
	topic := u.Option("topic", "")
	if topic == "" {
		topic = u.Option("thread", "")
	}
	if topic != "" {
		n, err := strconv.Atoi(strings.TrimSpace(topic))
		if err != nil {
			return nil, fmt.Errorf("tgram:// topic %q is not a number (use the topic's thread id)", topic)
		}
		c.topic = n
	}
	c.silent = apprise.OptBool(u, "silent", false)
	c.preview = apprise.OptBool(u, "preview", false)
	c.detect = len(c.rawChats) == 0
	if v, ok := u.Options["detect"]; ok {
		c.detect = apprise.ParseBool(v, false)
	}
	if f := strings.ToLower(u.Option("format", "")); f == "text" || f == "markdown" || f == "html" {
		c.format = f
	}

	// parse_list: split, de-duplicate and sort, then keep valid chats.
	seen := map[string]bool{}
	var chats []string
	for _, r := range c.rawChats {
		for _, s := range listRE.Split(r, -1) {
			if s != "" && !seen[s] {
				seen[s] = true
				chats = append(chats, s)
			}
		}
	}
	sort.Strings(chats)
	var bad []string
	for _, s := range chats {
		cm := chatRE.FindStringSubmatch(s)
		if cm == nil {
			bad = append(bad, s)
			c.detect = false
			continue
		}
		t := target{topic: c.topic}
		if cm[7] != "" {
			n, err := strconv.Atoi(cm[7])
			if err != nil {
				bad = append(bad, s)
				continue
			}
			t.topic = n
		}
		if cm[4] != "" {
			t.chatID = "@" + cm[4]
		} else {
			n, _ := new(big.Int).SetString(cm[2], 10)
			t.chatID = apprise.RawNumber(n.String())
		}
		c.targets = append(c.targets, t)
	}
	if len(c.targets) == 0 && len(bad) > 0 {
		return nil, fmt.Errorf("tgram:// chat %q is not a chat id: use the numeric id (negative for groups) or @channelname", bad[0])
	}
	if len(c.targets) == 0 && !c.detect {
		return nil, fmt.Errorf("tgram:// needs a chat id after the bot token: %s (or detect=yes to message the first user who wrote to the bot)", usage)
	}
	return c, nil
}

func (c *config) redacted() string {
	s := "tgram://" + c.tokenID + ":****"
	for _, r := range c.rawChats {
		s += "/" + r
	}
	return s
}

// Validate implements sdk.Validator.
func (tgram) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	opts := map[string]string{
		"silent":  yesNo(c.silent),
		"preview": yesNo(c.preview),
		"content": c.content,
		"detect":  yesNo(c.detect),
	}
	if c.format != "" {
		opts["format"] = c.format
	}
	if c.format == "markdown" {
		opts["mdv"] = map[string]string{"MARKDOWN": "v1", "MarkdownV2": "v2"}[c.mdv]
	}
	if c.topic != 0 {
		opts["topic"] = strconv.Itoa(c.topic)
	}
	return sdk.ValidateResult{OK: true, Hosts: []string{"api.telegram.org"}, RedactedURL: c.redacted(), Options: opts}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// Send implements sdk.Transport.
func (tgram) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	targets := c.targets
	if len(targets) == 0 && c.detect {
		id, res := botOwner(c)
		if !res.OK {
			return res
		}
		// Apprise keeps the detected id as a string: "chat_id": "532389719".
		targets = append(targets, target{chatID: id, topic: c.topic})
	}

	body := req.Body
	base := apprise.Obj("disable_notification", c.silent, "disable_web_page_preview", !c.preview)
	parseMode := "HTML"
	if c.format == "markdown" {
		if req.BodyFormat != "" && req.BodyFormat != "markdown" && c.mdv == "MarkdownV2" {
			body = escapeMarkdownV2(body)
		}
		parseMode = c.mdv
	} else {
		body = telegramHTML(body, req.BodyFormat == "html" || req.BodyFormat == "markdown")
	}
	base.Set("parse_mode", parseMode)
	base.Set("text", body)

	atts := req.Attachments
	var caption *apprise.Object
	if len(atts) > 0 && body != "" && utf8.RuneCountInString(body) < 1024 {
		caption = apprise.Obj("caption", body, "show_caption_above_media", c.content == "before", "parse_mode", parseMode)
	}
	attachContent := c.content
	if body == "" || caption != nil {
		attachContent = "after"
	}

	var failed *sdk.SendResult
	fail := func(r sdk.SendResult, t target) {
		r.Error = fmt.Sprintf("%s (chat %s)", r.Error, t)
		if failed == nil {
			failed = &r
		}
	}
	for _, t := range targets {
		payload := base.Copy()
		payload.Set("chat_id", t.chatID)
		if t.topic != 0 {
			payload.Set("message_thread_id", t.topic)
		}
		if len(atts) > 0 && attachContent == "after" {
			if r := sendAttachments(c, t, caption, atts); !r.OK {
				fail(r, t)
				continue
			}
			if body == "" {
				continue
			}
		}
		if caption != nil {
			continue
		}
		resp, err := sdk.HTTP(sdk.HTTPRequest{
			Method:  "POST",
			URL:     apiURL + c.token + "/sendMessage",
			Headers: [][2]string{{"Content-Type", "application/json"}},
			Body:    apprise.Dumps(payload),
		})
		if err != nil {
			fail(apprise.HostFailure("telegram", err), t)
			continue
		}
		if r := result(resp); !r.OK {
			fail(r, t)
			continue
		}
		if len(atts) > 0 && attachContent == "before" {
			if r := sendAttachments(c, t, nil, atts); !r.OK {
				fail(r, t)
			}
		}
	}
	if failed != nil {
		return *failed
	}
	return sdk.Sent()
}

// sendAttachments posts each attachment to the chat; the first one carries
// the caption payload when there is one. Like Apprise, the caption payload
// is shared between chats and keeps the fields set for earlier ones.
func sendAttachments(c *config, t target, caption *apprise.Object, atts []sdk.AttachmentInfo) sdk.SendResult {
	for i := range atts {
		a := &atts[i]
		payload := &apprise.Object{}
		if caption != nil && len(*caption) > 0 && i == 0 {
			payload = caption
		}
		name := a.Name
		if name == "" {
			name = fmt.Sprintf("file%03d.dat", i+1)
		}
		payload.Set("title", name)
		payload.Set("chat_id", t.chatID)
		if t.topic != 0 {
			payload.Set("message_thread_id", t.topic)
		}
		method, key := mediaMethod(a.MIME)
		var fields []apprise.FormPart
		for _, e := range *payload {
			fields = append(fields, apprise.FormPart{Name: e.Key, Value: apprise.PyStr(e.Value)})
		}
		fields = append(fields, apprise.FormPart{Name: key, Filename: name, Attachment: a})
		body, ctype, err := apprise.Multipart(fields)
		if err != nil {
			return sdk.Fail(fmt.Sprintf("telegram: read attachment %s: %v", name, err))
		}
		resp, err := sdk.HTTP(sdk.HTTPRequest{
			Method:  "POST",
			URL:     apiURL + c.token + "/" + method,
			Headers: [][2]string{{"Content-Type", ctype}},
			Body:    body,
		})
		if err != nil {
			return apprise.HostFailure("telegram", err)
		}
		if r := result(resp); !r.OK {
			r.Error += " (attachment " + name + ")"
			return r
		}
	}
	return sdk.Sent()
}

var mediaTypes = []struct {
	re          *regexp.Regexp
	method, key string
}{
	{regexp.MustCompile(`(?i)^(image/gif|video/H264)`), "sendAnimation", "animation"},
	{regexp.MustCompile(`(?i)^image/`), "sendPhoto", "photo"},
	{regexp.MustCompile(`(?i)^video/mp4`), "sendVideo", "video"},
	{regexp.MustCompile(`(?i)^(application|audio)/ogg`), "sendVoice", "voice"},
	{regexp.MustCompile(`(?i)^audio/(mpeg|mp4a-latm)`), "sendAudio", "audio"},
}

// mediaMethod picks the Bot API method and file field for a MIME type.
func mediaMethod(mime string) (method, key string) {
	if mime == "" {
		mime = "application/octet-stream"
	}
	for _, m := range mediaTypes {
		if m.re.MatchString(mime) {
			return m.method, m.key
		}
	}
	return "sendDocument", "document"
}

// apiReply is the envelope of every Bot API answer.
type apiReply struct {
	OK          *bool  `json:"ok"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter int `json:"retry_after"`
	} `json:"parameters"`
}

// result maps a Bot API answer: HTTP 200 (with ok not false) is sent; the
// error text is the answer's description.
func result(resp *sdk.HTTPResponse) sdk.SendResult {
	var r apiReply
	_ = json.Unmarshal(resp.Body, &r)
	if resp.Status == 200 && (r.OK == nil || *r.OK) {
		return sdk.Sent()
	}
	msg := r.Description
	if msg == "" {
		msg = strings.TrimSpace(string(resp.Body))
		if len(msg) > 200 {
			msg = msg[:200]
		}
	}
	msg = fmt.Sprintf("telegram: HTTP %d: %s", resp.Status, msg)
	if resp.Status >= 200 && resp.Status < 300 {
		return sdk.Fail(msg)
	}
	after := time.Duration(r.Parameters.RetryAfter) * time.Second
	if s, err := strconv.Atoi(strings.TrimSpace(resp.Headers["retry-after"])); err == nil && s > 0 {
		after = time.Duration(s) * time.Second
	}
	return sdk.ResultForStatus(resp.Status, after, msg)
}

// botOwner returns the chat id of the first user who messaged the bot,
// remembered in the KV store, as Apprise's detect_bot_owner does.
func botOwner(c *config) (string, sdk.SendResult) {
	if b, err := sdk.KV.Get("bot_owner"); err == nil && len(b) > 0 {
		return string(b), sdk.Sent()
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method:  "POST",
		URL:     apiURL + c.token + "/getUpdates",
		Headers: [][2]string{{"Content-Type", "application/json"}},
	})
	if err != nil {
		return "", apprise.HostFailure("telegram", err)
	}
	if resp.Status != 200 {
		r := result(resp)
		r.Error = "detect the bot owner: " + r.Error
		return "", r
	}
	var upd struct {
		OK     bool `json:"ok"`
		Result []struct {
			Message *struct {
				From *struct {
					ID json.Number `json:"id"`
				} `json:"from"`
			} `json:"message"`
		} `json:"result"`
	}
	d := json.NewDecoder(strings.NewReader(string(resp.Body)))
	d.UseNumber()
	if d.Decode(&upd) == nil && upd.OK {
		for _, e := range upd.Result {
			if e.Message != nil && e.Message.From != nil && e.Message.From.ID != "" {
				id := e.Message.From.ID.String()
				_ = sdk.KV.Set("bot_owner", []byte(id))
				sdk.Logf(sdk.LevelInfo, "telegram: sending to the bot owner, chat id %s; add it to the URL: tgram://…/%s", id, id)
				return id, sdk.Sent()
			}
		}
	}
	return "", sdk.FailPermanent("telegram: the URL has no chat id and nobody has messaged the bot yet: send your bot a message, or add the chat id: " + usage)
}

// escapeMarkdownV2 backslash-escapes Telegram's reserved characters that are
// not already escaped, as Apprise does for non-markdown input.
func escapeMarkdownV2(s string) string {
	var b strings.Builder
	prev := rune(0)
	for _, r := range s {
		if strings.ContainsRune("_*[]()~`>#+=|{}.!-", r) && prev != '\\' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
		prev = r
	}
	return b.String()
}

// pyWS is what Python's \s matches in a str pattern.
const pyWS = `[\t\n\v\f\r \x{1c}-\x{1f}\x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]`

type htmlRule struct {
	re   *regexp.Regexp
	repl string
	nl   string // replaces {} in repl when the input was HTML or markdown
}

func rule(pattern, repl, nl string) htmlRule {
	return htmlRule{regexp.MustCompile(`(?ims)` + strings.ReplaceAll(pattern, `\s`, pyWS)), repl, nl}
}

// htmlRules rewrite HTML Telegram does not accept, in Apprise's order.
var htmlRules = []htmlRule{
	rule(`\s*<!.+?-->\s*`, "", ""),
	rule(`\s*<\s*(!?DOCTYPE|p|div|span|body|script|link|meta|html|font|head|label|form|input|textarea|select|iframe|source|script)([^a-z0-9>][^>]*)?>\s*`, "", ""),
	rule(`\s*<\s*/(span|body|script|meta|html|font|head|label|form|input|textarea|select|ol|ul|link|iframe|source|script)([^a-z0-9>][^>]*)?>\s*`, "", ""),
	rule(`<\s*(strong)([^a-z0-9>][^>]*)?>`, "<b>", ""),
	rule(`<\s*/\s*(strong)([^a-z0-9>][^>]*)?>`, "</b>", ""),
	rule(`\s*<\s*(h[1-6]|title)([^a-z0-9>][^>]*)?>\s*`, "{}<b>", "\r\n"),
	rule(`\s*<\s*/\s*(h[1-6]|title)([^a-z0-9>][^>]*)?>\s*`, "</b>{}", "<br/>"),
	rule(`<\s*(caption|em)([^a-z0-9>][^>]*)?>`, "<i>", ""),
	rule(`<\s*/\s*(caption|em)([^a-z0-9>][^>]*)?>`, "</i>", ""),
	rule(`<\s*li([^a-z0-9>][^>]*)?>\s*`, " -", ""),
	rule(`\s*<\s*/?\s*(ol|ul|br|hr)\s*/?>\s*`, "\r\n", ""),
	rule(`\s*<\s*/\s*(br|p|hr|li|div)([^a-z0-9>][^>]*)?>\s*`, "\r\n", ""),
	rule(`\&nbsp;?`, " ", ""),
	rule(`\&emsp;?`, "   ", ""),
	rule(`\&apos;?`, "'", ""),
	rule(`\&quot;?`, `"`, ""),
	rule(`\r*\n[\r\n]+`, "\r\n", ""),
}

// telegramHTML applies htmlRules; markupInput says the notifier's body was
// HTML or markdown (headings then get line breaks around them).
func telegramHTML(body string, markupInput bool) string {
	for _, r := range htmlRules {
		repl := r.repl
		if strings.Contains(repl, "{}") {
			nl := ""
			if markupInput {
				nl = r.nl
			}
			repl = strings.ReplaceAll(repl, "{}", nl)
		}
		body = r.re.ReplaceAllLiteralString(body, repl)
	}
	return body
}
