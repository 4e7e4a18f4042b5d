// Command matrix sends notifications to Matrix rooms as Apprise 1.9.8's
// matrix:// and matrixs:// do: through the client-server API of the
// owner's homeserver (log in or use an access token, join the rooms, send
// m.room.message events, upload attachments), or through a webhook
// (?mode=matrix|slack|t2bot, or a https://webhooks.t2bot.io/… URL).
//
// The access token, the joined rooms, the transaction counter and the
// .well-known discovery are kept in the guest's KV store, so later messages
// skip the login; a token the server no longer knows (401 M_UNKNOWN_TOKEN)
// is dropped and the login done once more.
package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

// imageURL is Apprise's 32×32 "info" icon (?image=yes).
const imageURL = "https://github.com/caronc/apprise/raw/master/apprise/assets/themes/default/apprise-info-32x32.png"

// Hosts the client may reach besides the URL's: matrix.org delegates its
// client API to matrix-client.matrix.org and names vector.im as identity
// server in /.well-known/matrix/client.
var fixedHosts = []string{"matrix-client.matrix.org", "vector.im", t2botHost}

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:         "matrix",
		Version:      "1.0.0",
		Schemes:      []string{"matrix", "matrixs"},
		NativeURLs:   nativeURLs,
		Hosts:        fixedHosts,
		UserHost:     true,
		Format:       "text",
		TitleMaxLen:  250,
		BodyMaxLen:   65000,
		Attachments:  "any",
		Capabilities: []string{"http", "kv"},
	}, matrix{})
}

func main() {}

type matrix struct{}

func (matrix) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parseConfig(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	hosts := []string{c.host}
	if c.mode == modeT2Bot {
		hosts = []string{t2botHost}
	}
	opts := map[string]string{"mode": c.mode, "version": c.version, "msgtype": c.msgtype}
	if c.format != "" {
		opts["format"] = c.format
	}
	return sdk.ValidateResult{OK: true, Hosts: hosts, RedactedURL: c.redacted(), Options: opts}
}

func (matrix) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parseConfig(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	format := c.format
	if format == "" {
		format = "text"
	}
	if c.mode != modeOff {
		return sendWebhook(c, req, format)
	}
	m := &client{c: c, kv: c.kvPrefix()}
	res := m.send(req, format)
	if m.tokenRejected && m.cachedToken && !c.tokenMode() {
		// The cached token expired or was revoked: log in again, once.
		sdk.Log(sdk.LevelInfo, "matrix: the cached access token was refused; logging in again")
		m.forget()
		m = &client{c: c, kv: c.kvPrefix()}
		res = m.send(req, format)
	}
	return res
}

// escapeHTML is Apprise's escape_html: & < > ' " escaped, and with
// whitespace also tabs and spaces.
func escapeHTML(s string, whitespace bool) string {
	s = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;").Replace(s)
	if whitespace {
		s = strings.NewReplacer("\t", "&emsp;", " ", "&nbsp;").Replace(s)
	}
	return s
}

// sendWebhook posts to a Matrix webhook bridge (mode matrix, slack or
// t2bot). Success is HTTP 200.
func sendWebhook(c *config, req *sdk.SendRequest, format string) sdk.SendResult {
	var u string
	if c.mode == modeT2Bot {
		u = "https://" + t2botHost + "/api/v1/matrix/hook/" + c.password
	} else {
		token := c.password
		if token == "" {
			token = c.user
		}
		u = c.base() + "/api/v1/matrix/hook/" + token
	}
	name := c.user
	if name == "" {
		name = "Apprise"
	}
	var payload apprise.Object
	if c.mode == modeSlack {
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
		now := sdk.Now()
		payload = apprise.Object{{Key: "username", Value: name}, {Key: "mrkdwn", Value: format == "markdown"}, {Key: "attachments", Value: []any{apprise.Object{
			{Key: "title", Value: esc.Replace(req.Title)}, {Key: "text", Value: esc.Replace(req.Body)}, {Key: "color", Value: "#3AA3E3"},
			{Key: "ts", Value: float64(now.UnixMicro()) / 1e6}, {Key: "footer", Value: "Apprise"},
		}}}}
	} else {
		text := req.Body
		h1 := ""
		if req.Title != "" {
			h1 = "<h1>" + escapeHTML(req.Title, true) + "</h1>"
		}
		switch format {
		case "html":
			text = h1 + req.Body
		case "markdown":
			text = h1 + markdownToHTML(req.Body)
		default:
			if req.Title != "" {
				text = req.Title + "\r\n" + req.Body
			}
		}
		f := "html"
		if format == "text" {
			f = "plain"
		}
		payload = apprise.Object{{Key: "displayName", Value: name}, {Key: "format", Value: f}, {Key: "text", Value: text}}
		if c.mode == modeT2Bot && c.image {
			payload.Set("avatarUrl", imageURL)
		}
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{Method: "POST", URL: u,
		Headers: [][2]string{{"Content-Type", "application/json"}}, Body: apprise.Dumps(payload)})
	if err != nil {
		return hostFailure(err)
	}
	if resp.Status == 200 {
		return sdk.Sent()
	}
	return sdk.ResultForStatus(resp.Status, apprise.RetryAfter(resp), fmt.Sprintf("Matrix webhook answered %d: %s", resp.Status, apprise.Snippet(resp.Body)))
}

func hostFailure(err error) sdk.SendResult {
	var he *sdk.HostError
	if errors.As(err, &he) && (he.Code == sdk.CodeTimeout || he.Code == sdk.CodeNetwork || he.Code == sdk.CodeTooLarge) {
		return sdk.Retry(0, "matrix: "+he.Message)
	}
	return sdk.FailPermanent("matrix: " + err.Error())
}

// client is one delivery through the client-server API.
type client struct {
	c    *config
	kv   string
	base string // homeserver base URL after discovery; "" until known

	token       string
	cachedToken bool // token came from the KV store
	homeServer  string
	txn         int

	tokenRejected bool
	// last failure, for the result
	status     int
	errText    string
	hostErr    error
	retryAfter time.Duration
}

// kvGet and kvSet keep state per account.
func (m *client) kvGet(k string) string {
	v, err := sdk.KV.Get(m.kv + k)
	if err != nil {
		return ""
	}
	return string(v)
}

func (m *client) kvSet(k, v string) {
	if err := sdk.KV.Set(m.kv+k, []byte(v)); err != nil {
		sdk.Logf(sdk.LevelWarn, "matrix: could not keep %s: %v", k, err)
	}
}

// forget drops the cached login, as Apprise's logout clears its store.
func (m *client) forget() {
	for _, k := range []string{"access_token", "home_server", "user_id", "transaction_id"} {
		m.kvSet(k, "")
	}
}

func (m *client) apiPath() string {
	if m.c.version == "2" {
		return "/_matrix/client/r0"
	}
	return "/_matrix/client/v3"
}

func (m *client) mediaPath() string {
	if m.c.version == "2" {
		return "/_matrix/media/r0"
	}
	return "/_matrix/media/v3"
}

// response is one answer of the homeserver.
type response struct {
	ok     bool
	status int
	body   map[string]any
}

func (r response) str(k string) string {
	s, _ := r.body[k].(string)
	return s
}

// fetch makes one request as Apprise's _fetch does: JSON headers, the
// bearer token when known, GETs carrying the body "null", up to two
// attempts when the server answers 429 (waiting retry_after_ms), and
// success only for HTTP 200 with a JSON body.
func (m *client) fetch(method, u string, payload []byte, attachment *sdk.AttachmentInfo) response {
	headers := [][2]string{{"Content-Type", "application/json"}, {"Accept", "application/json"}}
	if attachment != nil {
		mime := attachment.MIME
		if mime == "" {
			mime = "application/octet-stream"
		}
		headers[0][1] = mime
	}
	if m.token != "" {
		headers = append(headers, [2]string{"Authorization", "Bearer " + m.token})
	}
	r := sdk.HTTPRequest{Method: method, URL: u, Headers: headers, Body: payload}
	if attachment != nil {
		id := attachment.ID
		r.BodyAttachment = &id
	}
	for attempt := 1; ; attempt++ {
		resp, err := sdk.HTTP(r)
		if err != nil {
			m.hostErr, m.status = err, 0
			m.errText = err.Error()
			return response{status: 500}
		}
		var body map[string]any
		jsonOK := json.Unmarshal(resp.Body, &body) == nil
		if body == nil {
			body = map[string]any{}
		}
		if resp.Status == 429 {
			wait := time.Second
			if ms, ok := body["retry_after_ms"].(float64); ok {
				wait = time.Duration(ms) * time.Millisecond
			}
			m.status, m.retryAfter = 429, wait
			m.errText = "rate limited (429): " + errorOf(body, resp.Body)
			if attempt >= 2 || wait > 5*time.Second {
				return response{status: 429}
			}
			sdk.Logf(sdk.LevelWarn, "matrix: server asked to wait %s; retrying", wait)
			time.Sleep(wait)
			continue
		}
		if resp.Status != 200 || !jsonOK {
			if resp.Status == 401 && body["errcode"] == "M_UNKNOWN_TOKEN" {
				m.tokenRejected = true
			}
			m.status = resp.Status
			m.errText = fmt.Sprintf("HTTP %d: %s", resp.Status, errorOf(body, resp.Body))
			if !jsonOK {
				body = map[string]any{}
			}
			return response{status: resp.Status, body: body}
		}
		return response{ok: true, status: 200, body: body}
	}
}

// errorOf is the server's errcode and error, or the raw body.
func errorOf(body map[string]any, raw []byte) string {
	code, _ := body["errcode"].(string)
	msg, _ := body["error"].(string)
	switch {
	case code != "" && msg != "":
		return code + ": " + msg
	case code != "" || msg != "":
		return code + msg
	}
	return apprise.Snippet(raw)
}

// api calls the client-server API at path.
func (m *client) api(method, path string, payload []byte) (response, error) {
	base, err := m.baseURL()
	if err != nil {
		return response{status: 500}, err
	}
	return m.fetch(method, base+m.apiPath()+path, payload, nil), nil
}

// baseURL runs the .well-known discovery once (matrixs:// with
// discovery=yes), cached for a day, and returns the homeserver's URL.
func (m *client) baseURL() (string, error) {
	if m.base != "" {
		return m.base, nil
	}
	m.base = m.c.base()
	if !m.c.discovery || !m.c.secure {
		return m.base, nil
	}
	if v := m.kvGet("discovery"); v != "" {
		ts, b, _ := strings.Cut(v, " ")
		if t, err := strconv.ParseInt(ts, 10, 64); err == nil && sdk.Now().Unix()-t < 86400 {
			if b != "" {
				m.base = b
			}
			return m.base, nil
		}
	}
	r := m.fetch("GET", m.c.base()+"/.well-known/matrix/client", []byte("null"), nil)
	found := ""
	switch {
	case r.status == 404:
	case r.status != 200:
		m.base = ""
		return "", fmt.Errorf("matrix: server discovery (/.well-known/matrix/client) failed: %s", m.errText)
	default:
		hs, _ := r.body["m.homeserver"].(map[string]any)
		if len(r.body) > 0 {
			b, _ := hs["base_url"].(string)
			b = strings.TrimRight(b, "/")
			bu, err := url.Parse(b)
			if b == "" || err != nil || bu.Host == "" {
				m.base = ""
				return "", errors.New("matrix: server discovery failed: m.homeserver base_url is missing or invalid")
			}
			if !m.allowed(bu.Hostname()) {
				m.base = ""
				return "", fmt.Errorf("matrix: %s delegates its client API to %s (/.well-known/matrix/client); put that host in the URL (…@%s/…) or add ?discovery=no", m.c.host, bu.Host, bu.Host)
			}
			if v := m.fetch("GET", b+"/_matrix/client/versions", []byte("null"), nil); v.status != 200 {
				m.base = ""
				return "", fmt.Errorf("matrix: server discovery verification (%s/_matrix/client/versions) failed: %s", b, m.errText)
			}
			if is, ok := r.body["m.identity_server"].(map[string]any); ok {
				ib, _ := is["base_url"].(string)
				ib = strings.TrimRight(ib, "/")
				if iu, err := url.Parse(ib); err == nil && iu.Host != "" && m.allowed(iu.Hostname()) {
					if v := m.fetch("GET", ib+"/_matrix/identity/v2", []byte("null"), nil); v.status != 200 {
						m.base = ""
						return "", fmt.Errorf("matrix: identity server discovery (%s/_matrix/identity/v2) failed: %s", ib, m.errText)
					}
				}
			}
			found = b
		}
	}
	m.kvSet("discovery", strconv.FormatInt(sdk.Now().Unix(), 10)+" "+found)
	if found != "" {
		m.base = found
	}
	return m.base, nil
}

// allowed says whether the host policy lets this guest reach h.
func (m *client) allowed(h string) bool {
	h = strings.ToLower(h)
	if h == strings.ToLower(m.c.host) {
		return true
	}
	for _, f := range fixedHosts {
		if h == f {
			return true
		}
	}
	return false
}

// login gets an access token with the user's password (and, as Apprise
// does when that fails, tries to register the account).
func (m *client) login() error {
	var payload apprise.Object
	if m.c.version == "3" {
		payload = apprise.Object{{Key: "type", Value: "m.login.password"}, {Key: "identifier", Value: apprise.Object{{Key: "type", Value: "m.id.user"}, {Key: "user", Value: m.c.user}}}, {Key: "password", Value: m.c.password}}
	} else {
		payload = apprise.Object{{Key: "type", Value: "m.login.password"}, {Key: "user", Value: m.c.user}, {Key: "password", Value: m.c.password}}
	}
	r, err := m.api("POST", "/login", apprise.Dumps(payload))
	if err != nil {
		return err
	}
	if !r.ok || r.str("access_token") == "" {
		loginErr := m.errText
		reg := apprise.Object{{Key: "kind", Value: "user"}, {Key: "auth", Value: apprise.Object{{Key: "type", Value: "m.login.dummy"}}}, {Key: "username", Value: m.c.user}, {Key: "password", Value: m.c.password}}
		r, err = m.api("POST", "/register?kind=user", apprise.Dumps(reg))
		if err != nil {
			return err
		}
		if !r.ok || r.str("access_token") == "" {
			return fmt.Errorf("matrix: login as %s failed: %s", m.c.user, loginErr)
		}
	}
	m.token, m.homeServer = r.str("access_token"), r.str("home_server")
	if m.homeServer == "" {
		_, m.homeServer, _ = strings.Cut(r.str("user_id"), ":")
	}
	m.txn = 0
	m.kvSet("access_token", m.token)
	m.kvSet("home_server", m.homeServer)
	m.kvSet("user_id", r.str("user_id"))
	m.kvSet("transaction_id", "0")
	return nil
}

var (
	roomIDRE    = regexp.MustCompile(`(?i)^\s*(?:!|&#33;|%21)([a-z0-9._=-]+)(?:(?::|%3A)([a-z0-9.-]+))?\s*$`)
	roomAliasRE = regexp.MustCompile(`(?i)^\s*(?:#|%23)?([a-z0-9._=-]+)(?:(?::|%3A)([a-z0-9.-]+))?\s*$`)
)

// serverName is the homeserver for rooms given without one: the login's,
// else the URL's host (Apprise would write "None" there in token mode).
func (m *client) serverName() string {
	if m.homeServer != "" {
		return m.homeServer
	}
	return m.c.host
}

// join returns the room id of a room id or alias, joining it (and creating
// an alias that does not exist) the first time, cached in the KV store.
func (m *client) join(room string) (string, error) {
	if r := roomIDRE.FindStringSubmatch(room); r != nil {
		hs := r[2]
		if hs == "" {
			hs = m.serverName()
		}
		key := "!" + r[1] + ":" + hs
		id := key
		if r[2] == "" && !m.c.hsreq {
			id = "!" + r[1]
		}
		if v := m.kvGet("room:" + key); v != "" {
			return v, nil
		}
		resp, err := m.api("POST", "/join/"+apprise.Quote(id, "/"), []byte("{}"))
		if err != nil || !resp.ok {
			return "", err
		}
		if j := resp.str("room_id"); j != "" {
			id = j
		}
		m.kvSet("room:"+key, id)
		return id, nil
	}
	r := roomAliasRE.FindStringSubmatch(room)
	if r == nil {
		m.status, m.errText = 0, fmt.Sprintf("%q is not a room alias or id", room)
		return "", nil
	}
	hs := r[2]
	if hs == "" {
		hs = m.serverName()
	}
	alias := "#" + r[1] + ":" + hs
	if v := m.kvGet("room:" + alias); v != "" {
		return v, nil
	}
	resp, err := m.api("POST", "/join/"+apprise.Quote(alias, "/"), []byte("{}"))
	if err != nil {
		return "", err
	}
	if resp.ok {
		m.kvSet("room:"+alias, resp.str("room_id"))
		return resp.str("room_id"), nil
	}
	if resp.status != 404 && resp.str("errcode") != "M_NOT_FOUND" {
		return "", nil
	}
	create := apprise.Object{{Key: "room_alias_name", Value: r[1]}, {Key: "name", Value: "#" + r[1] + " - Apprise Notifications"},
		{Key: "visibility", Value: "private"}, {Key: "preset", Value: "trusted_private_chat"}}
	resp, err = m.api("POST", "/createRoom", apprise.Dumps(create))
	if err != nil {
		return "", err
	}
	if !resp.ok {
		if resp.str("errcode") != "M_ROOM_IN_USE" {
			return "", nil
		}
		resp, err = m.api("GET", "/directory/room/"+apprise.Quote(alias, "/"), []byte("null"))
		if err != nil || !resp.ok {
			return "", err
		}
		return resp.str("room_id"), nil
	}
	if a := resp.str("room_alias"); a != "" {
		m.kvSet("room:"+a, resp.str("room_id"))
	}
	return resp.str("room_id"), nil
}

// txnID is the transaction id of the next event: a counter per login (kept
// in the KV store), or a random id for an access token given in the URL.
func (m *client) txnID() string {
	if m.c.tokenMode() {
		return uuid4()
	}
	return strconv.Itoa(m.txn)
}

func (m *client) nextTxn() {
	if m.c.tokenMode() {
		return
	}
	m.txn++
	m.kvSet("transaction_id", strconv.Itoa(m.txn))
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// send delivers the message to every room.
func (m *client) send(req *sdk.SendRequest, format string) sdk.SendResult {
	c := m.c
	if c.tokenMode() {
		m.token = c.password
	} else if t := m.kvGet("access_token"); t != "" {
		m.token, m.cachedToken = t, true
		m.homeServer = m.kvGet("home_server")
		m.txn, _ = strconv.Atoi(m.kvGet("transaction_id"))
	}
	if m.token == "" {
		if err := m.login(); err != nil {
			return m.failure(err.Error())
		}
	}
	rooms := c.rooms
	if len(rooms) == 0 {
		r, err := m.api("GET", "/joined_rooms", []byte("null"))
		if err != nil {
			return m.failure(err.Error())
		}
		if list, ok := r.body["joined_rooms"].([]any); r.ok && ok {
			for _, x := range list {
				if s, ok := x.(string); ok {
					rooms = append(rooms, s)
				}
			}
		}
		if len(rooms) == 0 {
			if !r.ok {
				return m.failure("matrix: listing the joined rooms failed: " + m.errText)
			}
			return sdk.FailPermanent("matrix: no room in the URL and the account has joined none")
		}
	}

	// Upload the attachments first, as Apprise does.
	var events []apprise.Object
	for i := range req.Attachments {
		a := req.Attachments[i]
		image := strings.HasPrefix(strings.ToLower(a.MIME), "image/")
		if c.version == "2" && !image {
			continue
		}
		base, err := m.baseURL()
		if err != nil {
			return m.failure(err.Error())
		}
		r := m.fetch("POST", base+m.mediaPath()+"/upload?"+url.Values{"filename": {a.Name}}.Encode(), nil, &a)
		if !r.ok {
			return m.failure(fmt.Sprintf("matrix: uploading %s failed: %s", a.Name, m.errText))
		}
		mime := a.MIME
		if c.version == "3" {
			ev := apprise.Object{{Key: "body", Value: a.Name}, {Key: "info", Value: apprise.Object{{Key: "mimetype", Value: mime}, {Key: "size", Value: int(a.Size)}}},
				{Key: "msgtype", Value: map[bool]string{true: "m.image", false: "m.file"}[image]}, {Key: "url", Value: r.str("content_uri")}}
			if !image {
				ev = append(ev, apprise.Member{Key: "filename", Value: a.Name})
			}
			events = append(events, ev)
		} else {
			events = append(events, apprise.Object{{Key: "info", Value: apprise.Object{{Key: "mimetype", Value: mime}}}, {Key: "msgtype", Value: "m.image"}, {Key: "body", Value: "tta.webp"}, {Key: "url", Value: r.str("content_uri")}})
		}
	}

	method := "PUT"
	if c.version == "2" {
		method = "POST"
	}
	var failed []string
	for _, room := range rooms {
		id, err := m.join(room)
		if err != nil {
			return m.failure(err.Error())
		}
		if id == "" {
			failed = append(failed, fmt.Sprintf("could not join %s: %s", room, m.errText))
			continue
		}
		path := func() string {
			p := "/rooms/" + apprise.Quote(id, "/") + "/send/m.room.message"
			if c.version == "3" {
				p += "/" + m.txnID()
			}
			return p
		}
		if c.image && c.version == "2" {
			title := req.Title
			if title == "" {
				title = "info"
			}
			r, err := m.api("POST", path(), apprise.Dumps(apprise.Object{{Key: "msgtype", Value: "m.image"}, {Key: "url", Value: imageURL}, {Key: "body", Value: title}}))
			if err != nil {
				return m.failure(err.Error())
			}
			if !r.ok {
				failed = append(failed, fmt.Sprintf("room %s: %s", room, m.errText))
				continue
			}
		}
		for _, ev := range events {
			ev.Set("room_id", id)
			ev.Set("type", "m.room.message")
			r, err := m.api(method, path(), apprise.Dumps(ev))
			if c.version == "3" {
				m.nextTxn()
			}
			if err != nil {
				return m.failure(err.Error())
			}
			if !r.ok {
				failed = append(failed, fmt.Sprintf("room %s: attachment: %s", room, m.errText))
			}
		}
		body := req.Body
		if req.Title != "" {
			body = "# " + req.Title + "\r\n" + req.Body
		}
		payload := apprise.Object{{Key: "msgtype", Value: "m." + c.msgtype}, {Key: "body", Value: body}}
		switch format {
		case "html":
			h1 := ""
			if req.Title != "" {
				h1 = "<h1>" + req.Title + "</h1>"
			}
			payload = append(payload, apprise.Member{Key: "format", Value: "org.matrix.custom.html"}, apprise.Member{Key: "formatted_body", Value: h1 + req.Body})
		case "markdown":
			h1 := ""
			if req.Title != "" {
				h1 = "<h1>" + escapeHTML(req.Title, false) + "</h1>"
			}
			payload = append(payload, apprise.Member{Key: "format", Value: "org.matrix.custom.html"}, apprise.Member{Key: "formatted_body", Value: h1 + markdownToHTML(req.Body)})
		}
		r, err := m.api(method, path(), apprise.Dumps(payload))
		if c.version == "3" {
			m.nextTxn()
		}
		if err != nil {
			return m.failure(err.Error())
		}
		if !r.ok {
			if r.status == 403 {
				m.kvForgetRoom(room) // not (or no longer) in the room: join again next time
			}
			failed = append(failed, fmt.Sprintf("room %s: %s", room, m.errText))
			continue
		}
	}
	if len(failed) > 0 {
		return m.failure("matrix: " + strings.Join(failed, "; "))
	}
	return sdk.Sent()
}

// kvForgetRoom drops a cached room id.
func (m *client) kvForgetRoom(room string) {
	if r := roomIDRE.FindStringSubmatch(room); r != nil {
		hs := r[2]
		if hs == "" {
			hs = m.serverName()
		}
		m.kvSet("room:!"+r[1]+":"+hs, "")
	} else if r := roomAliasRE.FindStringSubmatch(room); r != nil {
		hs := r[2]
		if hs == "" {
			hs = m.serverName()
		}
		m.kvSet("room:#"+r[1]+":"+hs, "")
	}
}

// failure maps the last failure to a result: network errors and 429/5xx
// retry, 400/401/403/404 are permanent.
func (m *client) failure(msg string) sdk.SendResult {
	if m.hostErr != nil {
		res := hostFailure(m.hostErr)
		res.Error = msg
		return res
	}
	if m.status == 0 {
		return sdk.FailPermanent(msg)
	}
	return sdk.ResultForStatus(m.status, m.retryAfter, msg)
}
