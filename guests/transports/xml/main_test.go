package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// goldenCase is one message sent through the guest. HOST in its URL is
// replaced by the capture server's host:port; soap.example.com is
// redirected to the capture server, keeping its Host header.
type goldenCase struct {
	name, url, title, body string
	atts                   []runtime.Attachment
}

var (
	jpeg = runtime.Attachment{Name: "snap.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake")}
	text = runtime.Attachment{Name: "notes & <more>.txt", MIME: "text/plain", Data: []byte("layer 12: ok\n")}
)

// The cases without soap.example.com were checked byte for byte against
// Apprise 1.9.8 itself (see exportCases).
var goldenCases = []goldenCase{
	{name: "title_body", url: "xml://HOST/", title: "Moonraker started", body: "started: octo_print.gcode"},
	{name: "no_title", url: "xml://HOST", body: "x"},
	{name: "escaping", url: "xml://HOST/notify", title: `<b>"Hot" & 'cold'</b>`, body: "Nozzle 215°C ✓ 🎉\nline2\ttab"},
	{name: "override_subject_extra", url: "xml://HOST/?:Subject=Title&:Priority=high%20%26%20hot", title: "T", body: "B"},
	{name: "drop_message_type", url: "xml://HOST/?:MessageType=", title: "T", body: "B"},
	{name: "invalid_element_name", url: "xml://HOST/?:%21%21=x", title: "T", body: "B"},
	{name: "element_name_sanitised", url: "xml://HOST/?:my.key!=v&:subject=lower", title: "T", body: "B"},
	{name: "attachments", url: "xml://HOST/", title: "Print done", body: "benchy", atts: []runtime.Attachment{jpeg, text}},
	{name: "params_not_sent", url: "xml://u:p@HOST/in?-token=abc&+X-Token=t", title: "T", body: "B"},
	{name: "method_get", url: "xml://HOST/in?method=get", title: "T", body: "B"},
	// A fixed name redirected to the capture server.
	{name: "https_port", url: "xmls://soap.example.com:8443/ws/", title: "T", body: "B"},
	{name: "unnamed_attachment", url: "xml://HOST/", body: "B", atts: []runtime.Attachment{{MIME: "application/octet-stream", Data: []byte{1, 2, 3}}}},
}

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"soap.example.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "xml", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "xml", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()) - before; n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", cap.Dump(cap.Last(t)))
		})
	}
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
	for _, tc := range []struct {
		url, redacted, err string
	}{
		{url: "xmls://user:secret@soap.local/ws?format=html", redacted: "xmls://user:****@soap.local/ws"},
		{url: "xml://host/?method=CONNECT", err: "xml: method=CONNECT is not one of POST, GET, DELETE, PUT, HEAD, PATCH"},
		{url: "xml://-bad-/", err: `xml: "-bad-" is not a valid host name or address`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "xml", tc.url)
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
