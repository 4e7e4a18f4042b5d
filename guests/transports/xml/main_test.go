package main

import (
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

var (
	jpeg = runtime.Attachment{Name: "snap.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake")}
	text = runtime.Attachment{Name: "notes & <more>.txt", MIME: "text/plain", Data: []byte("layer 12: ok\n")}
)

// The cases without soap.example.com were checked byte for byte against
// Apprise 1.9.8 itself (see TestExportCases).
// Each golden case is one message sent through the guest. HOST in its URL is
// replaced by the capture server's host:port; soap.example.com is
// redirected to the capture server, keeping its Host header.
var goldenCases = []transporttest.Case{
	{Name: "title_body", URL: "xml://HOST/", Title: "Moonraker started", Body: "started: octo_print.gcode"},
	{Name: "no_title", URL: "xml://HOST", Body: "x"},
	{Name: "escaping", URL: "xml://HOST/notify", Title: `<b>"Hot" & 'cold'</b>`, Body: "Nozzle 215°C ✓ 🎉\nline2\ttab"},
	{Name: "override_subject_extra", URL: "xml://HOST/?:Subject=Title&:Priority=high%20%26%20hot", Title: "T", Body: "B"},
	{Name: "drop_message_type", URL: "xml://HOST/?:MessageType=", Title: "T", Body: "B"},
	{Name: "invalid_element_name", URL: "xml://HOST/?:%21%21=x", Title: "T", Body: "B"},
	{Name: "element_name_sanitised", URL: "xml://HOST/?:my.key!=v&:subject=lower", Title: "T", Body: "B"},
	{Name: "attachments", URL: "xml://HOST/", Title: "Print done", Body: "benchy", Attachments: []runtime.Attachment{jpeg, text}},
	{Name: "params_not_sent", URL: "xml://u:p@HOST/in?-token=abc&+X-Token=t", Title: "T", Body: "B"},
	{Name: "method_get", URL: "xml://HOST/in?method=get", Title: "T", Body: "B"},
	// A fixed name redirected to the capture server.
	{Name: "https_port", URL: "xmls://soap.example.com:8443/ws/", Title: "T", Body: "B"},
	{Name: "unnamed_attachment", URL: "xml://HOST/", Body: "B", Attachments: []runtime.Attachment{{MIME: "application/octet-stream", Data: []byte{1, 2, 3}}}},
}

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"soap.example.com": cap.URL}, transporttest.Guest(t, "."))
	transporttest.RunGolden(t, eng, cap, "xml", goldenCases, transporttest.OneRequestEach())
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunFailures(t, eng, cap, "xml", "xml://HOST/", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: "<fault>bad envelope</fault>"},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "xml: POST answered HTTP 400: <fault>bad envelope</fault>"},
		{Name: "503", Reply: transporttest.Response{Status: 503, Body: "down"}, Status: sdk.StatusRetry, ErrText: "xml: POST answered HTTP 503: down"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 30, ErrText: "HTTP 429: slow down"},
		{Name: "202 is sent", Reply: transporttest.Response{Status: 202}, Status: sdk.StatusSent},
	})
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "xml", []transporttest.Validation{
		{URL: "xmls://user:secret@soap.local/ws?format=html", Secret: "secret", Redacted: "xmls://user:****@soap.local/ws", Hosts: "soap.local", Format: "html"},
		{URL: "xml://host/?method=CONNECT", ErrPrefix: "xml: method=CONNECT is not one of POST, GET, DELETE, PUT, HEAD, PATCH"},
		{URL: "xml://-bad-/", ErrPrefix: `xml: "-bad-" is not a valid host name or address`},
	})
}

// TestExportCases writes the golden cases as JSON to $APPRISE_ORACLE_CASES,
// for replaying them through Apprise 1.9.8 and comparing its requests
// with testdata/. It does nothing otherwise.
func TestExportCases(t *testing.T) { transporttest.ExportOracleCases(t, goldenCases) }
