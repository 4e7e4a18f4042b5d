package main

import (
	"bytes"
	"regexp"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

var (
	jpeg   = runtime.Attachment{Name: "snap.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake")}
	text   = runtime.Attachment{Name: "notes.txt", MIME: "text/plain", Data: []byte("layer 12: ok\n")}
	quoted = runtime.Attachment{Name: `my "best" print.txt`, MIME: "text/plain", Data: []byte("quoted\r\n")}
)

// The cases without forms.example.com were checked byte for byte against
// Apprise 1.9.8 itself (see TestExportCases).
// Each golden case is one message sent through the guest. HOST in its URL is
// replaced by the capture server's host:port; forms.example.com is
// redirected to the capture server, keeping its Host header.
var goldenCases = []transporttest.Case{
	// What Moonraker's own capture shows a form:// target receives.
	{Name: "moonraker_capture", URL: "form://HOST/", Body: "form octo_print.gcode"},
	{Name: "title_body", URL: "form://HOST/hook", Title: "Voron <2.4> & \"friends\"", Body: "Nozzle 215°C ✓ 🎉\nline2 a+b=c"},
	{Name: "payload_rename", URL: "form://HOST/?:message=msg&:type=&:extra=1&:msg2=", Title: "T", Body: "B"},
	{Name: "payload_rename_collision", URL: "form://HOST/?:title=message", Title: "T", Body: "B"},
	{Name: "payload_empty", URL: "form://HOST/?:version=&:title=&:message=&:type=", Title: "T", Body: "B"},
	{Name: "method_get", URL: "form://HOST/in?method=GET&-token=abc&-type=override", Title: "T", Body: "B b"},
	{Name: "method_put_params_headers", URL: "form://u:p@HOST/in?method=put&-token=abc&+X-Token=t", Title: "T", Body: "B"},
	{Name: "attachments", URL: "form://HOST/", Title: "Print done", Body: "benchy", Attachments: []runtime.Attachment{jpeg, text}},
	{Name: "attach_as_plain", URL: "form://HOST/?attach-as=image", Body: "B", Attachments: []runtime.Attachment{jpeg, text}},
	{Name: "attach_as_prefix_wildcard", URL: "form://HOST/?attach-as=*photo", Body: "B", Attachments: []runtime.Attachment{jpeg, text}},
	{Name: "attach_as_middle_wildcard", URL: "form://HOST/?attach-as=img$shot", Body: "B", Attachments: []runtime.Attachment{jpeg}},
	{Name: "attach_as_trailing_plus", URL: "form://HOST/?attach-as=file+", Body: "B", Attachments: []runtime.Attachment{jpeg, text}},
	{Name: "attachment_get", URL: "form://HOST/?method=GET", Title: "T", Body: "B", Attachments: []runtime.Attachment{jpeg}},
	{Name: "attachment_quoted_name", URL: "form://HOST/?:my\"field=1", Body: "B", Attachments: []runtime.Attachment{quoted}},
	{Name: "attachment_content_type_header", URL: "form://HOST/?+Content-Type=multipart/mixed", Body: "B", Attachments: []runtime.Attachment{text}},
	{Name: "urlencoded_content_type_header", URL: "form://HOST/?+content-type=text/plain", Body: "B"},
	// A fixed name redirected to the capture server.
	{Name: "https_port", URL: "forms://forms.example.com:8443/submit/", Title: "T", Body: "B"},
	{Name: "unnamed_attachment", URL: "form://HOST/", Body: "B", Attachments: []runtime.Attachment{{MIME: "application/octet-stream", Data: []byte{1, 2, 3}}}},
}

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"forms.example.com": cap.URL}, transporttest.Guest(t, "."))
	transporttest.RunGolden(t, eng, cap, "form", goldenCases, transporttest.OneRequestEach(), transporttest.Mask(maskBoundary))
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
	transporttest.RunValidate(t, eng, "form", []transporttest.Validation{
		{URL: "form://user:secret@printer.local:8080/hook?attach-as=file", Secret: "secret", Redacted: "form://user:****@printer.local:8080/hook", Hosts: "printer.local"},
		{URL: "forms://hooks.example.com/?attach-as=%20image*%20", Redacted: "forms://hooks.example.com/", Hosts: "hooks.example.com"},
		{URL: "form://host/?attach-as=%7Bimage%7D", ErrPrefix: "form: attach-as={image} is not a part name"},
		{URL: "form://host/?method=TRACE", ErrPrefix: "form: method=TRACE is not one of POST, GET, DELETE, PUT, HEAD, PATCH"},
		{URL: "form://?method=GET", ErrPrefix: "form: the URL names no host; use form://[user[:password]@]host[:port][/path] (forms:// for https)"},
	})
}

// TestExportCases writes the golden cases as JSON to $APPRISE_ORACLE_CASES,
// for replaying them through Apprise 1.9.8 and comparing its requests
// with testdata/. It does nothing otherwise.
func TestExportCases(t *testing.T) { transporttest.ExportOracleCases(t, goldenCases) }
