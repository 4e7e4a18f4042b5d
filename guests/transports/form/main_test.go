package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// goldenCase is one message sent through the guest. HOST in its URL is
// replaced by the capture server's host:port; forms.example.com is
// redirected to the capture server, keeping its Host header.
type goldenCase struct {
	name, url, title, body string
	atts                   []runtime.Attachment
}

var (
	jpeg   = runtime.Attachment{Name: "snap.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake")}
	text   = runtime.Attachment{Name: "notes.txt", MIME: "text/plain", Data: []byte("layer 12: ok\n")}
	quoted = runtime.Attachment{Name: `my "best" print.txt`, MIME: "text/plain", Data: []byte("quoted\r\n")}
)

// The cases without forms.example.com were checked byte for byte against
// Apprise 1.9.8 itself (see exportCases).
var goldenCases = []goldenCase{
	// What Moonraker's own capture shows a form:// target receives.
	{name: "moonraker_capture", url: "form://HOST/", body: "form octo_print.gcode"},
	{name: "title_body", url: "form://HOST/hook", title: "Voron <2.4> & \"friends\"", body: "Nozzle 215°C ✓ 🎉\nline2 a+b=c"},
	{name: "payload_rename", url: "form://HOST/?:message=msg&:type=&:extra=1&:msg2=", title: "T", body: "B"},
	{name: "payload_rename_collision", url: "form://HOST/?:title=message", title: "T", body: "B"},
	{name: "payload_empty", url: "form://HOST/?:version=&:title=&:message=&:type=", title: "T", body: "B"},
	{name: "method_get", url: "form://HOST/in?method=GET&-token=abc&-type=override", title: "T", body: "B b"},
	{name: "method_put_params_headers", url: "form://u:p@HOST/in?method=put&-token=abc&+X-Token=t", title: "T", body: "B"},
	{name: "attachments", url: "form://HOST/", title: "Print done", body: "benchy", atts: []runtime.Attachment{jpeg, text}},
	{name: "attach_as_plain", url: "form://HOST/?attach-as=image", body: "B", atts: []runtime.Attachment{jpeg, text}},
	{name: "attach_as_prefix_wildcard", url: "form://HOST/?attach-as=*photo", body: "B", atts: []runtime.Attachment{jpeg, text}},
	{name: "attach_as_middle_wildcard", url: "form://HOST/?attach-as=img$shot", body: "B", atts: []runtime.Attachment{jpeg}},
	{name: "attach_as_trailing_plus", url: "form://HOST/?attach-as=file+", body: "B", atts: []runtime.Attachment{jpeg, text}},
	{name: "attachment_get", url: "form://HOST/?method=GET", title: "T", body: "B", atts: []runtime.Attachment{jpeg}},
	{name: "attachment_quoted_name", url: "form://HOST/?:my\"field=1", body: "B", atts: []runtime.Attachment{quoted}},
	{name: "attachment_content_type_header", url: "form://HOST/?+Content-Type=multipart/mixed", body: "B", atts: []runtime.Attachment{text}},
	{name: "urlencoded_content_type_header", url: "form://HOST/?+content-type=text/plain", body: "B"},
	// A fixed name redirected to the capture server.
	{name: "https_port", url: "forms://forms.example.com:8443/submit/", title: "T", body: "B"},
	{name: "unnamed_attachment", url: "form://HOST/", body: "B", atts: []runtime.Attachment{{MIME: "application/octet-stream", Data: []byte{1, 2, 3}}}},
}

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"forms.example.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "form", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "form", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()) - before; n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", maskBoundary(cap.Dump(cap.Last(t))))
		})
	}
}

// guestBoundary is a boundary the guest chose itself, which the dump does
// not mask when the URL sets its own Content-Type.
var guestBoundary = regexp.MustCompile(`(?m)^--([0-9a-f]{32})(--)?\r$`)

func maskBoundary(dump []byte) []byte {
	m := guestBoundary.FindSubmatch(dump)
	if m == nil {
		return dump
	}
	return bytes.ReplaceAll(dump, m[1], []byte("BOUNDARY"))
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunFailures(t, eng, cap, "form", "form://HOST/", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: "message is required"},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "form: POST answered HTTP 400: message is required"},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "oops"}, Status: sdk.StatusRetry, ErrText: "form: POST answered HTTP 500: oops"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 7, ErrText: "HTTP 429: slow down"},
		{Name: "201 is sent", Reply: transporttest.Response{Status: 201}, Status: sdk.StatusSent},
	})
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		url, redacted, err string
	}{
		{url: "form://user:secret@printer.local:8080/hook?attach-as=file", redacted: "form://user:****@printer.local:8080/hook"},
		{url: "forms://hooks.example.com/?attach-as=%20image*%20", redacted: "forms://hooks.example.com/"},
		{url: "form://host/?attach-as=%7Bimage%7D", err: "form: attach-as={image} is not a part name"},
		{url: "form://host/?method=TRACE", err: "form: method=TRACE is not one of POST, GET, DELETE, PUT, HEAD, PATCH"},
		{url: "form://?method=GET", err: "form: the URL names no host; use form://[user[:password]@]host[:port][/path] (forms:// for https)"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "form", tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if tc.err != "" {
				if vr.OK || !strings.HasPrefix(vr.Error, tc.err) {
					t.Errorf("validate = %+v, want error %q", vr, tc.err)
				}
				return
			}
			if !vr.OK || vr.RedactedURL != tc.redacted {
				t.Errorf("validate = %+v, want redacted %q", vr, tc.redacted)
			}
		})
	}
}

// TestExportCases writes the golden cases as JSON to $APPRISE_ORACLE_CASES,
// for replaying them through Apprise 1.9.8 and comparing its requests
// with testdata/. It does nothing otherwise.
func TestExportCases(t *testing.T) {
	path := os.Getenv("APPRISE_ORACLE_CASES")
	if path == "" {
		t.Skip("requires APPRISE_ORACLE_CASES=<file> to export the cases for the Apprise oracle")
	}
	if err := exportCases(path, goldenCases); err != nil {
		t.Fatal(err)
	}
}

func exportCases(path string, cases []goldenCase) error {
	type att struct {
		Name string `json:"name"`
		Data string `json:"data"` // one rune per byte (Latin-1)
	}
	type exported struct {
		Name  string `json:"name"`
		URL   string `json:"url"`
		Title string `json:"title"`
		Body  string `json:"body"`
		Atts  []att  `json:"atts,omitempty"`
	}
	var out []exported
	for _, c := range cases {
		if strings.Contains(c.url, ".example") || slices.ContainsFunc(c.atts, func(a runtime.Attachment) bool { return a.Name == "" }) {
			continue // not reproducible with Apprise's file attachments
		}
		e := exported{Name: c.name, URL: c.url, Title: c.title, Body: c.body}
		for _, a := range c.atts {
			r := make([]rune, len(a.Data))
			for i, b := range a.Data {
				r[i] = rune(b)
			}
			e.Atts = append(e.Atts, att{Name: a.Name, Data: string(r)})
		}
		out = append(out, e)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
