// Command pbul delivers notifications to Pushbullet exactly as Apprise
// 1.9.8's pushbullet plugin does.
//
// URL forms:
//
//	pbul://ACCESS_TOKEN                       every device of the account
//	pbul://ACCESS_TOKEN/TARGET[/TARGET…]      devices, #channels, e-mails
//
// A target is a device iden, "#channel_tag" or an e-mail address; ?to= adds
// more. Targets are sorted and de-duplicated as Apprise's parse_list does.
//
// Requests (HTTP basic auth ACCESS_TOKEN with an empty password, JSON):
//
//   - per attachment, first: POST https://api.pushbullet.com/v2/upload-request
//     {file_name, file_type}, then a multipart upload (part "file") to the
//     upload_url Pushbullet returns (upload.pushbullet.com);
//   - per target: POST https://api.pushbullet.com/v2/pushes
//     {type:"note", title, body, email|channel_tag|device_iden} when the body
//     is not empty, then one {type:"file", file_name, file_type, file_url
//     [, image_url]} push per attachment. As in Apprise, file pushes carry no
//     target, so they reach every device of the account, once per target.
//
// HTTP 200 and 204 count as sent. Apprise stops at the first failed upload
// and carries on with the other targets after a failed push.
package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/guests/sdk/apprise"
)

const (
	apiHost    = "api.pushbullet.com"
	uploadHost = "upload.pushbullet.com"
	apiURL     = "https://" + apiHost + "/v2/"
	usage      = "pbul://ACCESS_TOKEN[/DEVICE|#CHANNEL|EMAIL…]"
)

func init() {
	sdk.RegisterTransport(sdk.Manifest{
		Name:        "pbul",
		Version:     "1.0.0",
		Schemes:     []string{"pbul"},
		Hosts:       []string{apiHost, uploadHost},
		Format:      "text",
		TitleMaxLen: 250,
		BodyMaxLen:  32768,
		Attachments: "any",
	}, pbul{})
}

func main() {}

type pbul struct{}

// emailRE is Apprise's GET_EMAIL_RE, matched at the start of a target.
var emailRE = regexp.MustCompile(`(?i)^(([\s"']+)?([^:<'"]+)?[:<\s'"]+)?` +
	`(?P<full>(([^+]+)\+)?` +
	`(([a-z0-9_!#$%&*/=?%` + "`" + `{|}~^-]+` +
	`(?:\.[a-z0-9_!#$%&'*/=?%` + "`" + `{|}~^-]+)*)@(` +
	`(?:[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?\.)+` +
	`[a-z0-9](?:[a-z0-9_-]*[a-z0-9])|` +
	`[a-z0-9][a-z0-9_-]{5,})))`)

// config is a parsed pbul URL.
type config struct {
	token   string
	targets []string // empty: every device
	format  string
}

func parse(raw string) (*config, error) {
	// Apprise 1.9.8 hands the URL to Python's urlparse, which takes a '#'
	// as the start of a fragment and silently drops "#channel" targets
	// (the message then goes to every device). Pushbullet's and Apprise's
	// documentation write channels as "#tag", so read them as targets.
	u, err := sdk.ParseURL(strings.ReplaceAll(raw, "#", "%23"))
	if err != nil {
		return nil, fmt.Errorf("pbul: %v", err)
	}
	if u.Scheme != "pbul" {
		return nil, fmt.Errorf("pbul: scheme %q is not pbul://", u.Scheme)
	}
	c := &config{token: strings.TrimSpace(u.HostPort(0))}
	if c.token == "" {
		return nil, fmt.Errorf("pbul:// needs your access token: %s", usage)
	}
	c.targets = apprise.ParseList(append(append([]string(nil), u.Path...), apprise.Opt(u, "to"))...)
	if c.format, err = apprise.Format(u); err != nil {
		return nil, fmt.Errorf("pbul: %v", err)
	}
	return c, nil
}

// Validate checks a notifier URL when the configuration loads.
func (pbul) Validate(req *sdk.ValidateRequest) sdk.ValidateResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.ValidateResult{Error: err.Error()}
	}
	red := "pbul://****"
	for _, t := range c.targets {
		red += "/" + url.PathEscape(t)
	}
	res := sdk.ValidateResult{OK: true, Hosts: []string{apiHost, uploadHost}, RedactedURL: red}
	if c.format != "" {
		res.Options = map[string]string{"format": c.format}
	}
	return res
}

// Send uploads the attachments, then pushes the note and the files to each
// target.
func (pbul) Send(req *sdk.SendRequest) sdk.SendResult {
	c, err := parse(req.URL)
	if err != nil {
		return sdk.FailPermanent(err.Error())
	}
	var files []apprise.Object
	for i, a := range req.Attachments {
		f, r := upload(c, a, i+1)
		if !r.OK {
			return r
		}
		files = append(files, f)
	}
	targets := c.targets
	if len(targets) == 0 {
		targets = []string{""} // every device
	}
	var failed *sdk.SendResult
	fail := func(r sdk.SendResult, target string) {
		if target != "" {
			r.Error += " (target " + target + ")"
		}
		if failed == nil {
			failed = &r
		}
	}
	for _, t := range targets {
		if req.Body != "" {
			note := apprise.Object{{Key: "type", Value: "note"}, {Key: "title", Value: req.Title}, {Key: "body", Value: req.Body}}
			switch {
			case t == "":
			case emailRE.MatchString(t):
				note = append(note, apprise.Member{Key: "email", Value: emailRE.FindStringSubmatch(t)[emailRE.SubexpIndex("full")]})
			case t[0] == '#':
				note = append(note, apprise.Member{Key: "channel_tag", Value: t[1:]})
			default:
				note = append(note, apprise.Member{Key: "device_iden", Value: t})
			}
			if _, r := post(c, apiURL+"pushes", note); !r.OK {
				fail(r, t)
				continue
			}
		}
		for _, f := range files {
			if _, r := post(c, apiURL+"pushes", f); !r.OK {
				fail(r, t)
			}
		}
	}
	if failed != nil {
		return *failed
	}
	return sdk.Sent()
}

// upload asks Pushbullet where to upload an attachment, uploads it and
// returns the file push to send.
func upload(c *config, a sdk.AttachmentInfo, no int) (apprise.Object, sdk.SendResult) {
	name := a.Name
	if name == "" {
		name = fmt.Sprintf("file%03d.dat", no)
	}
	body, r := post(c, apiURL+"upload-request", apprise.Object{{Key: "file_name", Value: name}, {Key: "file_type", Value: a.MIME}})
	if !r.OK {
		return nil, r
	}
	var up struct {
		FileName  *string `json:"file_name"`
		FileType  *string `json:"file_type"`
		FileURL   *string `json:"file_url"`
		UploadURL *string `json:"upload_url"`
	}
	if err := json.Unmarshal(body, &up); err != nil || up.FileName == nil || up.FileType == nil || up.FileURL == nil || up.UploadURL == nil {
		return nil, sdk.Fail(fmt.Sprintf("pbul: upload request for %s: Pushbullet's answer lacks file_name, file_type, file_url or upload_url: %s", name, apprise.Snippet(body)))
	}
	push := apprise.Object{{Key: "type", Value: "file"}, {Key: "file_name", Value: *up.FileName}, {Key: "file_type", Value: *up.FileType}, {Key: "file_url", Value: *up.FileURL}}
	if strings.HasPrefix(*up.FileType, "image/") {
		push = append(push, apprise.Member{Key: "image_url", Value: *up.FileURL})
	}
	if h := uploadURLHost(*up.UploadURL); h != apiHost && h != uploadHost {
		return nil, sdk.FailPermanent(fmt.Sprintf("pbul: Pushbullet asked to upload %s to %s, a host this transport may not contact (only %s and %s)", name, h, apiHost, uploadHost))
	}
	mp, ctype, err := apprise.Multipart([]apprise.FormPart{{Name: "file", Filename: a.Name, Attachment: &a}})
	if err != nil {
		return nil, sdk.Fail("pbul: " + err.Error())
	}
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method:  "POST",
		URL:     *up.UploadURL,
		Headers: [][2]string{{"Authorization", apprise.BasicAuth(c.token, "")}, {"Content-Type", ctype}},
		Body:    mp,
	})
	if err != nil {
		return nil, apprise.HostFailure("pbul: upload "+name, err)
	}
	if r := result(resp); !r.OK {
		r.Error += " (uploading " + name + ")"
		return nil, r
	}
	return push, sdk.Sent()
}

// post sends one JSON request with the access token and returns the
// response body.
func post(c *config, u string, payload apprise.Object) ([]byte, sdk.SendResult) {
	resp, err := sdk.HTTP(sdk.HTTPRequest{
		Method:  "POST",
		URL:     u,
		Headers: [][2]string{{"Authorization", apprise.BasicAuth(c.token, "")}, {"Content-Type", "application/json"}},
		Body:    apprise.Dumps(payload),
	})
	if err != nil {
		return nil, apprise.HostFailure("pbul", err)
	}
	return resp.Body, result(resp)
}

// result maps Pushbullet's answer; its errors look like
// {"error":{"code":"invalid_access_token","type":"invalid_request","message":"Access token is missing or invalid.",…}}.
func result(resp *sdk.HTTPResponse) sdk.SendResult {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.Unmarshal(resp.Body, &e)
	detail := e.Error.Message
	if detail == "" && resp.Status == 401 {
		detail = "Unauthorized - Invalid Token."
	}
	return apprise.Outcome(resp, "pbul: "+apprise.HTTPText(resp, detail), 200, 204)
}

// uploadURLHost is the host name of the upload URL, lower case.
func uploadURLHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return strings.ToLower(u.Hostname())
}
