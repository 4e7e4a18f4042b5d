// Command form posts notifications as an HTML form, exactly as Apprise
// 1.9.8's form:// plugin (custom_form.py) does.
//
// URL forms:
//
//	form://[user[:password]@]host[:port][/path]    http
//	forms://[user[:password]@]host[:port][/path]   https
//
// Options: method=POST|GET|PUT|PATCH|DELETE|HEAD (default POST);
// +Name=value adds a request header; -name=value adds a query parameter to
// the request; :key=value renames one of the fields version, title, message
// and type to value (removes it when value is empty) or adds a field;
// attach-as= names the file parts: a word with a wildcard (* ? + $ : . %)
// gets a two-digit counter there (default file*: file01, file02, …), a
// plain word is used for every file. user:password@ sends basic auth.
//
// Request: without attachments an application/x-www-form-urlencoded body
// version=1.0&title=…&message=…&type=info; with attachments a
// multipart/form-data body with the same fields, then one file part per
// attachment. With method=GET the fields (and the -params) go into the
// query string instead, and only file parts are left for a body. Any 2xx
// answer counts as sent.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "form",
		Version:     "1.0.0",
		Schemes:     []string{"form", "forms"},
		UserHost:    true,
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "any",
	}, transport{})
}

func main() {}

type transport struct{}

// attachAsRE is Apprise's attach-as pattern, matched at the start only.
var attachAsRE = regexp.MustCompile(`(?i)^((?P<match1>(?P<id1a>[a-z0-9_-]+)?(?P<wc1>[*?+$:.%]+)(?P<id1b>[a-z0-9_-]+))|(?P<match2>(?P<id2>[a-z0-9_-]+)(?P<wc2>[*?+$:.%]?)))`)

// partNamer names file parts: prefix, counter, suffix, or one fixed name.
type partNamer struct {
	prefix, suffix string
	counter        bool
}

func (p partNamer) name(no int) string {
	if !p.counter {
		return p.prefix
	}
	return p.prefix + fmt.Sprintf("%02d", no) + p.suffix
}

// parseAttachAs reads ?attach-as= as Apprise does.
func parseAttachAs(w *apprise.Webhook) (partNamer, error) {
	v, ok := w.Qsd["attach-as"]
	if !ok || v == "" {
		return partNamer{prefix: "file", counter: true}, nil
	}
	m := attachAsRE.FindStringSubmatch(strings.TrimFunc(v, apprise.IsPySpace))
	if m == nil {
		return partNamer{}, fmt.Errorf("form: attach-as=%s is not a part name; use a word such as file, optionally with * where the number goes (file*)", v)
	}
	g := func(name string) string { return m[attachAsRE.SubexpIndex(name)] }
	if g("match1") != "" {
		return partNamer{prefix: g("id1a"), suffix: g("id1b"), counter: true}, nil
	}
	return partNamer{prefix: g("id2"), counter: g("wc2") != ""}, nil
}

// config is a parsed form URL.
type config struct {
	*apprise.Webhook
	parts partNamer
}

func parse(raw string) (*config, error) {
	w, err := apprise.ParseWebhook(raw, "form")
	if err != nil {
		return nil, err
	}
	parts, err := parseAttachAs(w)
	if err != nil {
		return nil, err
	}
	return &config{w, parts}, nil
}

// Validate checks a notifier URL when the configuration loads.
func (transport) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	return c.Validate()
}

// Send delivers one message.
func (transport) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	notifyType := req.NotifyType
	if notifyType == "" {
		notifyType = "info"
	}
	// :key=value on a reserved field renames it (or drops it when empty);
	// other keys are extra fields, which may overwrite a renamed one.
	names := map[string]string{"version": "version", "title": "title", "message": "message", "type": "type"}
	var extras apprise.Object
	for _, e := range c.Payload {
		if _, ok := names[e.Key]; ok {
			names[e.Key] = e.Value.(string)
		} else {
			extras.Set(e.Key, e.Value)
		}
	}
	var fields apprise.Object
	for _, f := range [][2]string{{"version", "1.0"}, {"title", req.Title}, {"message", req.Body}, {"type", notifyType}} {
		if n := names[f[0]]; n != "" {
			fields.Set(n, f[1])
		}
	}
	for _, e := range extras {
		fields.Set(e.Key, e.Value)
	}

	query := c.Params
	if c.Method == "GET" {
		query = append(apprise.Object(nil), fields...)
		for _, p := range c.Params {
			query.Set(p.Key, p.Value)
		}
		fields = nil
	}
	headers, err := c.RequestHeaders()
	if err != nil {
		return sdk.FailPermanent("form: " + err.Error())
	}
	hreq := sdk.HTTPRequest{Method: c.Method, URL: apprise.WithQuery(c.URL(), query.Strings()), Headers: headers}
	switch {
	case len(req.Attachments) > 0:
		if len(req.Attachments) > 1 && !c.parts.counter {
			sdk.Logf(sdk.LevelWarn, "form: %d attachments all sent as part %q: attach-as has no wildcard", len(req.Attachments), c.parts.prefix)
		}
		if err := multipartBody(&hreq, fields, c.parts, req.Attachments); err != nil {
			return sdk.Fail("form: " + err.Error())
		}
	case len(fields) > 0:
		if !apprise.HasHeader(hreq.Headers, "Content-Type") {
			hreq.Headers = append(hreq.Headers, [2]string{"Content-Type", "application/x-www-form-urlencoded"})
		}
		hreq.Body = []byte(apprise.URLEncode(fields.Strings()))
	}
	return apprise.Do("form", hreq)
}

// multipartBody sets a multipart/form-data body as requests builds it:
// the fields in order, then one part per file with its name and type.
// The host streams the files when its encoding of the part headers is the
// same as requests'; otherwise (quotes, backslashes or line breaks in a
// name, or a Content-Type given in the URL) the guest writes the body.
func multipartBody(hreq *sdk.HTTPRequest, fields apprise.Object, parts partNamer, atts []sdk.AttachmentInfo) error {
	var ps []sdk.Part
	hostSafe := !apprise.HasHeader(hreq.Headers, "Content-Type")
	for _, f := range fields {
		ps = append(ps, sdk.Part{Name: f.Key, Value: f.Value.(string)})
		hostSafe = hostSafe && plainName(f.Key)
	}
	for i, a := range atts {
		id := a.ID
		p := sdk.Part{Name: parts.name(i + 1), Filename: apprise.AttachmentName(a, i+1), ContentType: apprise.AttachmentMIME(a), Attachment: &id}
		ps = append(ps, p)
		hostSafe = hostSafe && plainName(p.Name) && strconv.Quote(p.Filename) == `"`+p.Filename+`"`
	}
	if hostSafe {
		hreq.Multipart = ps
		return nil
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	boundary := hex.EncodeToString(rnd[:])
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("--" + boundary + "\r\n")
		b.WriteString(`Content-Disposition: form-data; name="` + partParam(p.Name) + `"`)
		if p.Attachment == nil {
			b.WriteString("\r\n\r\n" + p.Value + "\r\n")
			continue
		}
		b.WriteString(`; filename="` + partParam(p.Filename) + `"` + "\r\nContent-Type: " + p.ContentType + "\r\n\r\n")
		data, err := io.ReadAll(sdk.Attachment(*p.Attachment))
		if err != nil {
			return fmt.Errorf("attachment %s: %v", p.Filename, err)
		}
		b.Write(data)
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	hreq.Body = []byte(b.String())
	if !apprise.HasHeader(hreq.Headers, "Content-Type") {
		hreq.Headers = append(hreq.Headers, [2]string{"Content-Type", "multipart/form-data; boundary=" + boundary})
	}
	return nil
}

// plainName reports whether the host writes name in a part header exactly
// as urllib3 does.
func plainName(s string) bool { return !strings.ContainsAny(s, "\"\\\r\n") }

// partParam escapes a part header parameter as urllib3 2 does.
func partParam(s string) string {
	return strings.NewReplacer("\n", "%0A", "\r", "%0D", `"`, "%22").Replace(s)
}
