package main

import (
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

var (
	jpeg = runtime.Attachment{Name: "snap.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake")}
	text = runtime.Attachment{Name: "notes.txt", MIME: "text/plain", Data: []byte("layer 12: ok\n")}
)

// The cases without printer.example or hooks.example.com were checked
// byte for byte against Apprise 1.9.8 itself (see TestExportCases).
// Each golden case is one message sent through the guest. HOST in its URL is
// replaced by the capture server's host:port; printer.example and
// hooks.example.com are redirected to the capture server, keeping their
// Host header.
var goldenCases = []transporttest.Case{
	// What Moonraker's own capture shows a json:// target receives.
	{Name: "moonraker_started", URL: "json://HOST/", Title: "Moonraker started", Body: "started: octo_print.gcode"},
	{Name: "no_path_no_title", URL: "json://HOST", Body: "x"},
	{Name: "escaping", URL: "json://HOST/", Title: `Voron <2.4> & "friends"`,
		Body: "Nozzle 215°C ✓ 🎉\nline2\ttab \\ back/slash \x7f end"},
	{Name: "path_basic_auth", URL: "json://user:p%40ss@HOST/api//hooks/printer/", Title: "T", Body: "B"},
	{Name: "user_without_password", URL: "json://bob@HOST/hook", Body: "B"},
	{Name: "query_credentials", URL: "json://HOST/hook?user=admin&pass=s3cr%2Bt", Body: "B"},
	{Name: "method_put", URL: "json://HOST/x?method=put", Body: "B"},
	{Name: "method_get", URL: "json://HOST/x?method=GET", Body: "B"},
	{Name: "method_patch", URL: "json://HOST/x?method=PATCH", Body: "B"},
	{Name: "method_delete", URL: "json://HOST/x?method=DELETE", Body: "B"},
	{Name: "method_head", URL: "json://HOST/x?method=head", Body: "B"},
	{Name: "headers", URL: "json://HOST/?+X-Token=abc&+content-type=text/plain&+User-Agent=Printer;+X-Two=2", Body: "B"},
	{Name: "params", URL: "json://HOST/in?-token=a%20b&-q=1+2&-amp=%26y&method=post", Body: "B"},
	{Name: "payload_rename", URL: "json://HOST/?:message=text&:title=&:version=v&:extra=yes&:my+key=v", Title: "T", Body: "B"},
	{Name: "payload_rename_onto_field", URL: "json://HOST/?:title=message", Title: "T", Body: "B"},
	{Name: "attachments", URL: "json://HOST/", Title: "Print done", Body: "benchy", Attachments: []runtime.Attachment{jpeg, text}},
	{Name: "attachments_renamed", URL: "json://HOST/?:attachments=files", Body: "B", Attachments: []runtime.Attachment{text}},
	{Name: "trailing_slash_before_query", URL: "json://HOST/a/b/?method=POST", Body: "B"},
	{Name: "path_encoding", URL: "json://HOST/a%20b/%7Euser/caf%C3%A9/x:y@z", Body: "B"},
	{Name: "backslash_trimmed", URL: "json://HOST/a\\b\\", Body: "B"},
	{Name: "user_becomes_password", URL: "json://secret@HOST/?user=admin", Body: "B"},
	{Name: "query_decoding", URL: "json://HOST/?%2BX-Enc=1&:pct=a%2525b&:pad=%20%20padded%20%20&-sp=x+y", Body: "B"},
	// Fixed names redirected to the capture server.
	{Name: "https_port", URL: "jsons://hooks.example.com:8443/p/?+Authorization=Bearer%20tok", Title: "T", Body: "B"},
	{Name: "default_port_dropped", URL: "json://printer.example:80/dot/./x/../y", Body: "B"},
	{Name: "unnamed_attachment", URL: "json://HOST/", Body: "B", Attachments: []runtime.Attachment{{MIME: "application/octet-stream", Data: []byte{1, 2, 3}}}},
}

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"printer.example": cap.URL, "hooks.example.com": cap.URL}, transporttest.Guest(t, "."))
	transporttest.RunGolden(t, eng, cap, "json", goldenCases, transporttest.OneRequestEach())
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunFailures(t, eng, cap, "json", "json://HOST/", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: `{"error":"missing field"}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: `json: POST answered HTTP 400: {"error":"missing field"}`},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "oops"}, Status: sdk.StatusRetry, ErrText: "json: POST answered HTTP 500: oops"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "12"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 12, ErrText: "HTTP 429: slow down"},
		{Name: "204 is sent", Reply: transporttest.Response{Status: 204}, Status: sdk.StatusSent},
		{Name: "302 unfollowed", Reply: transporttest.Response{Status: 302}, Status: sdk.StatusFailed, ErrText: "HTTP 302"},
	})
}

func TestNetworkErrorRetries(t *testing.T) {
	cap := transporttest.NewCapture(t)
	host := cap.Host()
	cap.Close()
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	res, err := transporttest.Send(t, eng, "json", sdk.SendRequest{URL: "json://" + host + "/", Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sdk.StatusRetry || !strings.HasPrefix(res.Error, "json: ") {
		t.Errorf("result = %+v, want a retry", res)
	}
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "json", []transporttest.Validation{
		{URL: "json://user:secret@printer.local:8080/hook?+X-Token=abc", Secret: "secret", Redacted: "json://user:****@printer.local:8080/hook", Hosts: "printer.local"},
		{URL: "jsons://bob@[fe80::1]/", Redacted: "jsons://bob@[fe80::1]/", Hosts: "fe80::1"},
		{URL: "json://192.168.1.5/a/b/?format=markdown", Redacted: "json://192.168.1.5/a/b/", Hosts: "192.168.1.5", Format: "markdown"},
		{URL: "json://host/?format=rtf", Redacted: "json://host/", Hosts: "host"},
		{URL: "json://", ErrPrefix: "json: the URL names no host; use json://[user[:password]@]host[:port][/path] (jsons:// for https)"},
		{URL: "json://bad_host_/", ErrPrefix: `json: "bad_host_" is not a valid host name or address`},
		{URL: "json://host:port/", ErrPrefix: `json: "host:port" is not a valid host name or address`},
		{URL: "json://host/?method=OPTIONS", ErrPrefix: "json: method=OPTIONS is not one of POST, GET, DELETE, PUT, HEAD, PATCH"},
		{URL: "json://host/?port=70000", ErrPrefix: "json: port=70000 is not a port number (1-65535)"},
	})
}

// TestExportCases writes the golden cases as JSON to $APPRISE_ORACLE_CASES,
// for replaying them through Apprise 1.9.8 and comparing its requests
// with testdata/. It does nothing otherwise.
func TestExportCases(t *testing.T) { transporttest.ExportOracleCases(t, goldenCases) }
