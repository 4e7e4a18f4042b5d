// Command apprise forwards notifications to a self-hosted Apprise API
// server (github.com/caronc/apprise-api) exactly as Apprise 1.9.8's
// apprise_api plugin does. It is the escape hatch for every service
// moonrelay has no guest for: the Apprise API server holds the real
// notification URLs under a configuration KEY.
//
// URL forms:
//
//	apprise://HOST[:PORT]/KEY                 http
//	apprises://HOST[:PORT]/KEY                https
//	apprise[s]://HOST[:PORT]/PATH/KEY         Apprise API behind a path prefix
//	apprise[s]://USER[:PASSWORD]@HOST…        HTTP basic auth
//
// KEY is 1 to 128 letters, digits, '_' or '-' (?token= or ?to= may give it
// instead). Options: method=form (default) or json, tags=a,b (sent as
// "tag" fields), format=, and "+Name=value" for extra request headers.
//
// Request: POST {http|https}://HOST[:PORT][/PATH]/notify/KEY with the headers
// Accept: application/json, X-Apprise-ID (a UUID per guest instance) and
// X-Apprise-Recursion-Count: 1, and
//
//   - method=form: form fields title, body, type, format[, tag…]; with
//     attachments a multipart body with the same fields and one file part
//     per attachment named file01, file02, … (with its Content-Type);
//   - method=json: {"title", "body", "type", "format"[, "attachments":
//     [{filename, base64, mimetype}]][, "tag": […]]}.
//
// Only HTTP 200 counts as sent.
package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

const usage = "apprise://HOST[:PORT][/PATH]/KEY (apprises:// for https)"

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "apprise",
		Version:     "1.0.0",
		Schemes:     []string{"apprise", "apprises"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "any",
	}, apprise{})
}

func main() {}

type apprise struct{}

var tokenRE = regexp.MustCompile(`(?i)^[A-Z0-9_-]{1,128}$`)

// config is a parsed apprise URL.
type config struct {
	secure         bool
	host, hostPort string
	user, password string
	auth           bool
	path           []string // before the key
	token          string
	method         string
	tags           []string
	headers        [][2]string
	format         string
}

func parse(raw string) (*config, error) {
	u, err := sdk.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("apprise: %v", err)
	}
	if u.Scheme != "apprise" && u.Scheme != "apprises" {
		return nil, fmt.Errorf("apprise: scheme %q is not apprise:// or apprises://", u.Scheme)
	}
	if !isHostname(u.Host) {
		return nil, fmt.Errorf("apprise: %q is not a host name; use %s", u.Host, usage)
	}
	c := &config{secure: u.Scheme == "apprises", host: u.Host, hostPort: u.HostPort(0), method: "form"}
	c.user, c.password, c.auth = credentials(raw, u)
	c.path = u.Path
	switch {
	case opt(u, "token") != "":
		c.token = pyUnquote(opt(u, "token"))
	case opt(u, "to") != "":
		c.token = pyUnquote(opt(u, "to"))
	case len(u.Path) > 0:
		c.token, c.path = u.Path[len(u.Path)-1], u.Path[:len(u.Path)-1]
	}
	c.token = strings.TrimSpace(c.token)
	if c.token == "" {
		return nil, fmt.Errorf("apprise:// needs the configuration key of your Apprise API server: %s", usage)
	}
	if !tokenRE.MatchString(c.token) {
		return nil, fmt.Errorf("apprise: key %q must be 1 to 128 letters, digits, '_' or '-'", c.token)
	}
	if m := opt(u, "method"); m != "" {
		c.method = strings.ToLower(pyUnquote(m))
		if c.method != "form" && c.method != "json" {
			return nil, fmt.Errorf("apprise: method=%s is not form or json", m)
		}
	}
	if t := opt(u, "tags"); t != "" {
		c.tags = parseList(pyUnquote(t))
	}
	for _, h := range headerOptions(raw) {
		if !validHeaderName(h[0]) {
			return nil, fmt.Errorf("apprise: +%s is not a valid HTTP header name", h[0])
		}
		c.headers = append(c.headers, h)
	}
	if c.format, err = format(u); err != nil {
		return nil, fmt.Errorf("apprise: %v", err)
	}
	return c, nil
}

// headerOptions reads the +Name=value options in URL order, unquoted as
// Apprise does (keys keep their case, values are trimmed).
func headerOptions(raw string) [][2]string {
	_, query, ok := strings.Cut(raw, "?")
	if !ok {
		return nil
	}
	var out [][2]string
	for _, kv := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(kv, "=")
		if len(k) > 1 {
			k = k[:1] + strings.ReplaceAll(k[1:], "+", " ")
		}
		k, v = pyUnquote(k), strings.TrimSpace(pyUnquote(v))
		if strings.HasPrefix(k, "+") || strings.HasPrefix(k, " ") {
			out = setHeader(out, pyUnquote(k[1:]), pyUnquote(v))
		}
	}
	return out
}

// setHeader sets a header in an ordered list, case-insensitively, keeping
// its first place.
func setHeader(hs [][2]string, k, v string) [][2]string {
	for i := range hs {
		if strings.EqualFold(hs[i][0], k) {
			hs[i][1] = v
			return hs
		}
	}
	return append(hs, [2]string{k, v})
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// credentials returns the basic-auth user and password as Apprise builds
// them: user= and pass=/password= options override the URL's, and a user
// without a password is sent with the password "None" (Python's str(None)),
// as requests does.
func credentials(raw string, u *sdk.URL) (user, password string, auth bool) {
	_, rest, _ := strings.Cut(raw, "://")
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	hasPass := false
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		hasPass = strings.Contains(authority[:i], ":")
	}
	user, password = u.User, u.Password
	origUser := u.User
	if v, ok := u.Options["password"]; ok {
		password, hasPass = strings.TrimSpace(v), true
	}
	if v, ok := u.Options["pass"]; ok {
		password, hasPass = strings.TrimSpace(v), true
	}
	if v, ok := u.Options["user"]; ok {
		user = strings.TrimSpace(v)
		if !hasPass && origUser != "" {
			password, hasPass = origUser, true
		}
	}
	if user == "" {
		return "", "", false
	}
	if !hasPass {
		password = "None"
	}
	return user, password, true
}

// url is where the notification is posted.
func (c *config) url() string {
	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	u := scheme + "://" + c.hostPort
	if len(c.path) > 0 {
		u += "/" + requote(strings.Join(c.path, "/"))
	}
	return u + "/notify/" + c.token
}

// Validate checks a notifier URL when the configuration loads.
func (apprise) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	scheme := "apprise"
	if c.secure {
		scheme = "apprises"
	}
	red := scheme + "://"
	if c.auth {
		red += c.user + ":****@"
	}
	red += c.hostPort + "/"
	for _, p := range c.path {
		red += p + "/"
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{c.host}, RedactedURL: red + "****"}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// instanceID is Apprise's asset UID, sent as X-Apprise-ID so an Apprise API
// server can detect loops; one per guest instance, as Apprise keeps one per
// process.
var instanceID = newUUID()

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Send forwards one message.
func (apprise) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	nt := req.NotifyType
	if nt == "" {
		nt = "info"
	}
	bodyFormat := c.format
	if bodyFormat == "" {
		bodyFormat = "text"
	}
	headers := append([][2]string(nil), c.headers...)
	var body []byte
	ctype := ""
	if c.method == "json" {
		payload := obj{{"title", req.Title}, {"body", req.Body}, {"type", nt}, {"format", bodyFormat}}
		if len(req.Attachments) > 0 {
			var atts []any
			for i, a := range req.Attachments {
				b64, err := attachmentBase64(a)
				if err != nil {
					return sdk.Fail("apprise: " + err.Error())
				}
				atts = append(atts, obj{{"filename", fileName(a, i+1)}, {"base64", b64}, {"mimetype", a.MIME}})
			}
			payload = append(payload, field{"attachments", atts})
		}
		if len(c.tags) > 0 {
			// Apprise 1.9.8 fails here (it adds the tags to the already
			// encoded JSON string); send them as the API expects.
			payload = append(payload, field{"tag", c.tags})
		}
		body, ctype = pyJSON(payload), "application/json"
		headers = dropHeader(headers, "Content-Type")
	} else {
		fields := [][2]string{{"title", req.Title}, {"body", req.Body}, {"type", nt}, {"format", bodyFormat}}
		for _, t := range c.tags {
			fields = append(fields, [2]string{"tag", t})
		}
		if len(req.Attachments) == 0 {
			body, ctype = formEncode(fields), "application/x-www-form-urlencoded"
		} else {
			parts := make([]part, 0, len(fields)+len(req.Attachments))
			for _, f := range fields {
				parts = append(parts, part{name: f[0], value: f[1]})
			}
			for i := range req.Attachments {
				a := &req.Attachments[i]
				parts = append(parts, part{name: fmt.Sprintf("file%02d", i+1), filename: fileName(*a, i+1), ctype: a.MIME, att: a})
			}
			if body, ctype, err = multipartBody(parts); err != nil {
				return sdk.Fail("apprise: " + err.Error())
			}
		}
		if hasHeader(headers, "Content-Type") {
			ctype = "" // requests keeps a Content-Type the user set
		}
	}
	if ctype != "" {
		headers = append(headers, [2]string{"Content-Type", ctype})
	}
	if c.auth {
		headers = append(dropHeader(headers, "Authorization"), basicAuth(c.user, c.password))
	}
	for _, h := range [][2]string{{"Accept", "application/json"}, {"X-Apprise-ID", instanceID}, {"X-Apprise-Recursion-Count", "1"}} {
		headers = append(dropHeader(headers, h[0]), h)
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{Method: "POST", URL: c.url(), Headers: headers, Body: body, TimeoutMS: 30000})
	if err != nil {
		return hostFailure("apprise", err)
	}
	return outcome(resp, "apprise: "+httpText(resp, jsonError(resp.Body)), 200)
}

// fileName is an attachment's name, or Apprise's fileNNN.dat.
func fileName(a sdk.AttachmentInfo, no int) string {
	if a.Name != "" {
		return a.Name
	}
	return fmt.Sprintf("file%03d.dat", no)
}

func hasHeader(hs [][2]string, name string) bool {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return true
		}
	}
	return false
}

func dropHeader(hs [][2]string, name string) [][2]string {
	out := hs[:0]
	for _, h := range hs {
		if !strings.EqualFold(h[0], name) {
			out = append(out, h)
		}
	}
	return out
}

// jsonError extracts {"error":"…"} from a response body.
func jsonError(b []byte) string {
	var e struct {
		Error any `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		if s, ok := e.Error.(string); ok {
			return s
		}
	}
	return ""
}

var (
	hostLabel = regexp.MustCompile(`(?i)^([a-z0-9][a-z0-9_-]{1,62}|[a-z_-])$`)
	ipv4      = regexp.MustCompile(`^[0-9.]+$`)
)

// isHostname reports whether h is a host name or IP address Apprise
// accepts.
func isHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	h = strings.TrimSuffix(h, ".")
	if strings.Contains(h, ":") { // IPv6 literal, brackets already removed
		return true
	}
	labels := strings.Split(h, ".")
	if len(labels) == 4 && ipv4.MatchString(h) {
		for _, l := range labels {
			if l == "" || len(l) > 3 {
				return false
			}
			n := 0
			for _, d := range l {
				n = n*10 + int(d-'0')
			}
			if n > 255 {
				return false
			}
		}
		return true
	}
	for _, l := range labels {
		if !hostLabel.MatchString(l) || l[len(l)-1] == '-' || l[len(l)-1] == '_' {
			return false
		}
	}
	return true
}
