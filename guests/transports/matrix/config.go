package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// Webhook modes (?mode=).
const (
	modeOff   = "off"
	modeHook  = "matrix"
	modeSlack = "slack"
	modeT2Bot = "t2bot"
)

// t2botHost serves t2bot.io webhooks.
const t2botHost = "webhooks.t2bot.io"

// config is what a matrix URL means, resolved as Apprise 1.9.8 does.
type config struct {
	secure    bool
	host      string
	port      int
	user      string
	password  string // password, access token or webhook token
	rooms     []string
	mode      string
	version   string // "2" or "3"
	msgtype   string // "text" or "notice"
	discovery bool
	hsreq     bool
	image     bool
	format    string // ?format=, "" when not set
}

var (
	t2botTokenRE = regexp.MustCompile(`(?i)^[a-z0-9]{64}$`)
	hostRE       = regexp.MustCompile(`(?i)^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.?$`)
	nativeRE     = regexp.MustCompile(`(?i)^https?://webhooks\.t2bot\.io/api/v[0-9]+/matrix/hook/([A-Z0-9_-]+)/?(\?.+)?$`)
)

// nativeURLs are the t2bot webhook addresses Apprise maps to mode=t2bot.
var nativeURLs = []string{"https://webhooks.t2bot.io/api/", "http://webhooks.t2bot.io/api/"}

const usage = "matrixs://USER:PASSWORD@HOST/#ROOM, matrixs://TOKEN@HOST/#ROOM or matrix://T2BOT_WEBHOOK_ID"

// parseConfig reads a matrix:// or matrixs:// URL, or a t2bot webhook URL.
func parseConfig(raw string) (*config, error) {
	if m := nativeRE.FindStringSubmatch(raw); m != nil {
		q := "?mode=t2bot"
		if m[2] != "" {
			q = m[2] + "&mode=t2bot"
		}
		raw = "matrixs://" + m[1] + "/" + q
	}
	// As Apprise does, "/#room" is a room alias, not a URL fragment.
	u, err := sdk.ParseURL(strings.ReplaceAll(raw, "/#", "/%23"))
	if err != nil {
		return nil, err
	}
	if u.Scheme != "matrix" && u.Scheme != "matrixs" {
		return nil, fmt.Errorf("matrix handles matrix:// and matrixs://, not %s://", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("matrix needs a server: %s", usage)
	}
	c := &config{secure: u.Scheme == "matrixs", host: u.Host, port: u.Port, user: u.User, password: u.Password,
		version: "3", msgtype: "text", discovery: u.Bool("discovery", true), hsreq: u.Bool("hsreq", true),
		image: u.Bool("image", false)}
	c.rooms = append(c.rooms, u.Path...)
	if to := u.Option("to", ""); to != "" {
		c.rooms = append(c.rooms, splitList(to)...)
	}
	mode, modeSet := u.Options["mode"]
	if !modeSet && c.password == "" && len(c.rooms) == 0 {
		mode, modeSet = modeT2Bot, true
	}
	c.mode = modeOff
	if modeSet {
		c.mode = strings.ToLower(mode)
	}
	if c.mode == modeT2Bot {
		c.password = c.host
	}
	if v := u.Option("msgtype", ""); v != "" {
		c.msgtype = strings.ToLower(v)
	}
	if t := u.Option("token", ""); t != "" {
		c.password = t
	} else if c.password == "" && c.user != "" {
		c.password, c.user = c.user, ""
	}
	if v := u.Option("version", u.Option("v", "")); v != "" {
		c.version = v
	}
	if f := strings.ToLower(u.Option("format", "")); f != "" {
		if f != "text" && f != "markdown" && f != "html" {
			return nil, fmt.Errorf("matrix: format %q is not text, markdown or html", f)
		}
		c.format = f
	}
	switch c.mode {
	case modeOff, modeHook, modeSlack, modeT2Bot:
	default:
		return nil, fmt.Errorf("matrix: mode %q is not one of off, matrix, slack or t2bot", mode)
	}
	if c.version != "2" && c.version != "3" {
		return nil, fmt.Errorf("matrix: version %q is not 2 or 3", c.version)
	}
	if c.msgtype != "text" && c.msgtype != "notice" {
		return nil, fmt.Errorf("matrix: msgtype %q is not text or notice", c.msgtype)
	}
	if c.mode == modeT2Bot {
		if !t2botTokenRE.MatchString(c.password) {
			if len(c.rooms) == 0 && !modeSetExplicit(u) {
				return nil, fmt.Errorf("matrix: no room given and %q is not a t2bot webhook id (64 letters and digits); use %s", c.password, usage)
			}
			return nil, fmt.Errorf("matrix: the t2bot webhook id must be 64 letters and digits: matrix://WEBHOOK_ID")
		}
	} else if !hostRE.MatchString(c.host) && !strings.Contains(c.host, ":") {
		return nil, fmt.Errorf("matrix: %q is not a valid server name", c.host)
	}
	if c.mode != modeOff {
		c.discovery = false
	}
	if c.mode == modeOff {
		for _, r := range c.rooms {
			if strings.HasPrefix(r, "@") {
				return nil, fmt.Errorf("matrix: %q is a user; Apprise 1.9.8 sends only to rooms (#alias:server or !id:server)", r)
			}
		}
		if c.password == "" {
			return nil, fmt.Errorf("matrix needs a password or an access token: %s", usage)
		}
	}
	return c, nil
}

func modeSetExplicit(u *sdk.URL) bool {
	_, ok := u.Options["mode"]
	return ok
}

// splitList splits a list option at commas and blanks.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' })
}

// base is the homeserver's URL before discovery.
func (c *config) base() string {
	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	h := c.host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	if c.port != 0 {
		h += ":" + strconv.Itoa(c.port)
	}
	return scheme + "://" + h
}

// tokenMode says the URL carries an access token rather than a login.
func (c *config) tokenMode() bool { return c.user == "" }

// kvPrefix scopes cached state to the account, as Apprise's store is keyed
// by scheme, host, port, user and password.
func (c *config) kvPrefix() string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%v\x00%s\x00%d\x00%s\x00%s", c.secure, c.host, c.port, c.user, c.password)))
	return hex.EncodeToString(h[:6]) + "/"
}

// redacted hides the password or token.
func (c *config) redacted() string {
	if c.mode == modeT2Bot {
		return "matrixs://" + c.password[:4] + "****/?mode=t2bot"
	}
	scheme := "matrix"
	if c.secure {
		scheme = "matrixs"
	}
	auth := "****@"
	if c.user != "" {
		auth = c.user + ":****@"
	}
	s := scheme + "://" + auth + strings.TrimPrefix(strings.TrimPrefix(c.base(), "https://"), "http://")
	if len(c.rooms) > 0 {
		s += "/" + strings.Join(c.rooms, "/")
	}
	return s
}
