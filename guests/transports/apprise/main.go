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
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
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
	}, transport{})
}

func main() {}

type transport struct{}

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
	if !apprise.IsHostname(u.Host) {
		return nil, fmt.Errorf("apprise: %q is not a host name; use %s", u.Host, usage)
	}
	c := &config{secure: u.Scheme == "apprises", host: u.Host, hostPort: u.HostPort(0), method: "form"}
	c.user, c.password, c.auth = apprise.Credentials(raw, u)
	c.path = u.Path
	switch {
	case apprise.Opt(u, "token") != "":
		c.token = apprise.Unquote(apprise.Opt(u, "token"))
	case apprise.Opt(u, "to") != "":
		c.token = apprise.Unquote(apprise.Opt(u, "to"))
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
	if m := apprise.Opt(u, "method"); m != "" {
		c.method = strings.ToLower(apprise.Unquote(m))
		if c.method != "form" && c.method != "json" {
			return nil, fmt.Errorf("apprise: method=%s is not form or json", m)
		}
	}
	if t := apprise.Opt(u, "tags"); t != "" {
		c.tags = apprise.ParseList(apprise.Unquote(t))
	}
	for _, h := range headerOptions(raw) {
		if !validHeaderName(h[0]) {
			return nil, fmt.Errorf("apprise: +%s is not a valid HTTP header name", h[0])
		}
		c.headers = append(c.headers, h)
	}
	if c.format, err = apprise.Format(u); err != nil {
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
		k, v = apprise.Unquote(k), strings.TrimSpace(apprise.Unquote(v))
		if strings.HasPrefix(k, "+") || strings.HasPrefix(k, " ") {
			out = setHeader(out, apprise.Unquote(k[1:]), apprise.Unquote(v))
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

// url is where the notification is posted.
func (c *config) url() string {
	scheme := "http"
	if c.secure {
		scheme = "https"
	}
	u := scheme + "://" + c.hostPort
	if len(c.path) > 0 {
		u += "/" + apprise.Requote(strings.Join(c.path, "/"))
	}
	return u + "/notify/" + c.token
}

// Validate checks a notifier URL when the configuration loads.
func (transport) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
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
func (transport) Send(req *sdk.SendRequest) sdk.SendResult {
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
		payload := apprise.Object{{Key: "title", Value: req.Title}, {Key: "body", Value: req.Body}, {Key: "type", Value: nt}, {Key: "format", Value: bodyFormat}}
		if len(req.Attachments) > 0 {
			var atts []any
			for i, a := range req.Attachments {
				b64, err := apprise.AttachmentBase64(a)
				if err != nil {
					return sdk.Fail("apprise: " + err.Error())
				}
				atts = append(atts, apprise.Object{{Key: "filename", Value: fileName(a, i+1)}, {Key: "base64", Value: b64}, {Key: "mimetype", Value: a.MIME}})
			}
			payload = append(payload, apprise.Member{Key: "attachments", Value: atts})
		}
		if len(c.tags) > 0 {
			// Apprise 1.9.8 fails here (it adds the tags to the already
			// encoded JSON string); send them as the API expects.
			payload = append(payload, apprise.Member{Key: "tag", Value: c.tags})
		}
		body, ctype = apprise.Dumps(payload), "application/json"
		headers = dropHeader(headers, "Content-Type")
	} else {
		fields := [][2]string{{"title", req.Title}, {"body", req.Body}, {"type", nt}, {"format", bodyFormat}}
		for _, t := range c.tags {
			fields = append(fields, [2]string{"tag", t})
		}
		if len(req.Attachments) == 0 {
			body, ctype = []byte(apprise.URLEncode(fields)), "application/x-www-form-urlencoded"
		} else {
			parts := make([]apprise.FormPart, 0, len(fields)+len(req.Attachments))
			for _, f := range fields {
				parts = append(parts, apprise.FormPart{Name: f[0], Value: f[1]})
			}
			for i := range req.Attachments {
				a := &req.Attachments[i]
				parts = append(parts, apprise.FormPart{Name: fmt.Sprintf("file%02d", i+1), Filename: fileName(*a, i+1), ContentType: a.MIME, Attachment: a})
			}
			if body, ctype, err = apprise.Multipart(parts); err != nil {
				return sdk.Fail("apprise: " + err.Error())
			}
		}
		if apprise.HasHeader(headers, "Content-Type") {
			ctype = "" // requests keeps a Content-Type the user set
		}
	}
	if ctype != "" {
		headers = append(headers, [2]string{"Content-Type", ctype})
	}
	if c.auth {
		headers = append(dropHeader(headers, "Authorization"), [2]string{"Authorization", apprise.BasicAuth(c.user, c.password)})
	}
	for _, h := range [][2]string{{"Accept", "application/json"}, {"X-Apprise-ID", instanceID}, {"X-Apprise-Recursion-Count", "1"}} {
		headers = append(dropHeader(headers, h[0]), h)
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{Method: "POST", URL: c.url(), Headers: headers, Body: body, TimeoutMS: 30000})
	if err != nil {
		return apprise.HostFailure("apprise", err)
	}
	return apprise.Outcome(resp, "apprise: "+apprise.HTTPText(resp, jsonError(resp.Body)), 200)
}

// fileName is an attachment's name, or Apprise's fileNNN.dat.
func fileName(a sdk.AttachmentInfo, no int) string {
	if a.Name != "" {
		return a.Name
	}
	return fmt.Sprintf("file%03d.dat", no)
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
