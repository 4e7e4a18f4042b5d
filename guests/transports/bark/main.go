// Command bark delivers notifications to a Bark server (the iOS push app,
// https://github.com/Finb/Bark) exactly as Apprise 1.9.8's bark plugin does.
//
// URL forms:
//
//	bark://HOST[:PORT]/DEVICE_KEY[/DEVICE_KEY…]     http (barks:// for https)
//	bark://USER:PASS@HOST[:PORT]/DEVICE_KEY         basic authentication
//
// The public server is barks://api.day.app/DEVICE_KEY.
//
// Options: sound (a Bark sound name or its start, e.g. "bell"), level
// (active|timeSensitive|passive|critical), volume (0-10), click (URL opened
// on tap), badge, category, group, icon (URL), image=no (no Apprise icon),
// call=yes, to (more device keys), format=markdown (sends "markdown"
// instead of "body").
//
// Request: one POST {http|https}://HOST[:PORT]/push per device key with
// JSON {title, body|markdown, [icon, sound, url, badge, level, category,
// group, volume, call], device_key}; an empty title becomes "Apprise
// Notifications". Bark has no attachments. Only HTTP 200 counts as sent.
package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "bark",
		Version:     "1.0.0",
		Schemes:     []string{"bark", "barks"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "none",
	}, bark{})
}

func main() {}

const (
	usage        = "bark://HOST[:PORT]/DEVICE_KEY (barks:// for https, e.g. barks://api.day.app/DEVICE_KEY)"
	defaultTitle = "Apprise Notifications"
	// iconURL is Apprise's 128x128 "info" image, sent as the icon by default.
	iconURL = "https://github.com/caronc/apprise/raw/master/apprise/assets/themes/default/apprise-info-128x128.png"
)

// sounds are the Bark sounds Apprise knows; sound= picks the first that
// starts with the option.
var sounds = []string{
	"alarm.caf", "anticipate.caf", "bell.caf", "birdsong.caf", "bloom.caf",
	"calypso.caf", "chime.caf", "choo.caf", "descent.caf", "electronic.caf",
	"fanfare.caf", "glass.caf", "gotosleep.caf", "healthnotification.caf",
	"horn.caf", "ladder.caf", "mailsent.caf", "minuet.caf",
	"multiwayinvitation.caf", "newmail.caf", "newsflash.caf", "noir.caf",
	"paymentsuccess.caf", "shake.caf", "sherwoodforest.caf", "silence.caf",
	"spell.caf", "suspense.caf", "telegraph.caf", "tiptoes.caf",
	"typewriters.caf", "update.caf",
}

// levels: level= picks the first whose first letter matches (case matters,
// as in Apprise).
var levels = []string{"active", "timeSensitive", "passive", "critical"}

type bark struct{}

// config is a parsed bark URL.
type config struct {
	secure      bool
	hostPort    string
	host        string
	user        string
	password    string
	hasPassword bool
	devices     []string // sorted as Apprise sorts them
	markdown    bool
	format      string

	icon, sound, click, level, category, group string
	badge, volume                              int
	call                                       bool
}

func parse(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("bark: %v", err)
	}
	if u.Scheme != "bark" && u.Scheme != "barks" {
		return nil, fmt.Errorf("bark: scheme %q is not bark:// or barks://", u.Scheme)
	}
	if !apprise.IsHostname(u.Host) {
		return nil, fmt.Errorf("bark: %q is not a host name; use %s", u.Host, usage)
	}
	c := &config{
		secure: u.Scheme == "barks", host: u.Host, hostPort: u.HostPort(0),
		user: u.User, password: u.Password, hasPassword: apprise.HasPassword(raw),
	}
	targets := slices.Clone(u.Path)
	if to := apprise.Opt(u, "to"); to != "" {
		targets = append(targets, apprise.ParseList(to)...)
	}
	c.devices = apprise.ParseList(targets...)
	if len(c.devices) == 0 {
		return nil, fmt.Errorf("bark: no device key; use %s", usage)
	}

	c.category = apprise.Unquote(apprise.Opt(u, "category"))
	c.group = apprise.Unquote(apprise.Opt(u, "group"))
	c.click = apprise.Unquote(apprise.Opt(u, "click"))
	if v := apprise.Opt(u, "badge"); v != "" {
		if n, err := strconv.Atoi(apprise.Unquote(v)); err == nil && n >= 0 {
			c.badge = n
		} else {
			sdk.Logf(sdk.LevelWarn, "bark: badge %q is not a number of 0 or more; ignored", v)
		}
	}
	if v := apprise.Opt(u, "volume"); v != "" {
		// Apprise warns about a volume outside 0-10 but sends it anyway.
		if n, err := strconv.Atoi(apprise.Unquote(v)); err == nil {
			c.volume = n
		}
	}
	if v := strings.ToLower(apprise.Unquote(apprise.Opt(u, "sound"))); v != "" {
		for _, s := range sounds {
			if strings.HasPrefix(s, v) {
				c.sound = s
				break
			}
		}
	}
	if v := apprise.Unquote(apprise.Opt(u, "level")); v != "" {
		for _, l := range levels {
			if l[0] == v[0] {
				c.level = l
				break
			}
		}
	}
	image := true
	if v, ok := u.Options["image"]; ok {
		image = apprise.ParseBool(strings.TrimSpace(v), false)
	}
	c.icon = apprise.Unquote(apprise.Opt(u, "icon"))
	if c.icon == "" && image {
		c.icon = iconURL
	}
	c.call = apprise.ParseBool(apprise.Opt(u, "call"), false)
	switch f := strings.ToLower(apprise.Opt(u, "format")); f {
	case "text", "markdown", "html":
		c.format = f
		c.markdown = f == "markdown"
	}
	return c, nil
}

// Validate checks a notifier URL when the configuration loads.
func (bark) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	scheme := "bark"
	if c.secure {
		scheme = "barks"
	}
	auth := apprise.RedactedUser(c.user, c.hasPassword)
	// A device key lets anyone push to the phone: keep it out of logs.
	keys := make([]string, len(c.devices))
	for i := range keys {
		keys[i] = "****"
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{c.host},
		RedactedURL: scheme + "://" + auth + c.hostPort + "/" + strings.Join(keys, "/")}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// Send delivers one message to every device key.
func (bark) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	title := req.Title
	if title == "" {
		title = defaultTitle
	}
	payload := apprise.Object{{Key: "title", Value: title}}
	if c.markdown {
		payload = append(payload, apprise.Member{Key: "markdown", Value: req.Body})
	} else {
		payload = append(payload, apprise.Member{Key: "body", Value: req.Body})
	}
	add := func(key string, v any, ok bool) {
		if ok {
			payload = append(payload, apprise.Member{Key: key, Value: v})
		}
	}
	add("icon", c.icon, c.icon != "")
	add("sound", c.sound, c.sound != "")
	add("url", c.click, c.click != "")
	add("badge", c.badge, c.badge != 0)
	add("level", c.level, c.level != "")
	add("category", c.category, c.category != "")
	add("group", c.group, c.group != "")
	add("volume", c.volume, c.volume != 0)
	add("call", 1, c.call)

	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	headers := [][2]string{{"Content-Type", "application/json; charset=utf-8"}}
	if c.user != "" {
		headers = append(headers, [2]string{"Authorization", apprise.BasicAuth(c.user, apprise.OrNone(c.password, c.hasPassword))})
	}
	var first *sdk.SendResult
	// Apprise pops device keys off the end of its sorted list and goes on
	// after a failure.
	for i := len(c.devices) - 1; i >= 0; i-- {
		body := apprise.Dumps(append(slices.Clone(payload), apprise.Member{Key: "device_key", Value: c.devices[i]}))
		what := fmt.Sprintf("bark device %d of %d", len(c.devices)-i, len(c.devices))
		var res sdk.SendResult
		resp, err := sdk.HTTP(sdk.HTTPRequest{Method: "POST", URL: scheme + "://" + c.hostPort + "/push", Headers: headers, Body: body})
		if err != nil {
			res = apprise.HostFailure(what, err)
		} else {
			res = apprise.Outcome(resp, what+": "+errorText(resp), 200)
		}
		if !res.OK && first == nil {
			first = &res
		}
	}
	if first != nil {
		return *first
	}
	return sdk.Sent()
}

// errorText is Bark's own explanation: {"code":400,"message":"failed to get device token: …"}.
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
