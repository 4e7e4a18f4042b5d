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
// replaced by the capture server's host:port; printer.example and
// hooks.example.com are redirected to the capture server, keeping their
// Host header.
type goldenCase struct {
	name, url, title, body string
	atts                   []runtime.Attachment
}

var (
	jpeg = runtime.Attachment{Name: "snap.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01fake")}
	text = runtime.Attachment{Name: "notes.txt", MIME: "text/plain", Data: []byte("layer 12: ok\n")}
)

// The cases without printer.example or hooks.example.com were checked
// byte for byte against Apprise 1.9.8 itself (see exportCases).
var goldenCases = []goldenCase{
	// What Moonraker's own capture shows a json:// target receives.
	{name: "moonraker_started", url: "json://HOST/", title: "Moonraker started", body: "started: octo_print.gcode"},
	{name: "no_path_no_title", url: "json://HOST", body: "x"},
	{name: "escaping", url: "json://HOST/", title: `Voron <2.4> & "friends"`,
		body: "Nozzle 215°C ✓ 🎉\nline2\ttab \\ back/slash \x7f end"},
	{name: "path_basic_auth", url: "json://user:p%40ss@HOST/api//hooks/printer/", title: "T", body: "B"},
	{name: "user_without_password", url: "json://bob@HOST/hook", body: "B"},
	{name: "query_credentials", url: "json://HOST/hook?user=admin&pass=s3cr%2Bt", body: "B"},
	{name: "method_put", url: "json://HOST/x?method=put", body: "B"},
	{name: "method_get", url: "json://HOST/x?method=GET", body: "B"},
	{name: "method_patch", url: "json://HOST/x?method=PATCH", body: "B"},
	{name: "method_delete", url: "json://HOST/x?method=DELETE", body: "B"},
	{name: "method_head", url: "json://HOST/x?method=head", body: "B"},
	{name: "headers", url: "json://HOST/?+X-Token=abc&+content-type=text/plain&+User-Agent=Printer;+X-Two=2", body: "B"},
	{name: "params", url: "json://HOST/in?-token=a%20b&-q=1+2&-amp=%26y&method=post", body: "B"},
	{name: "payload_rename", url: "json://HOST/?:message=text&:title=&:version=v&:extra=yes&:my+key=v", title: "T", body: "B"},
	{name: "payload_rename_onto_field", url: "json://HOST/?:title=message", title: "T", body: "B"},
	{name: "attachments", url: "json://HOST/", title: "Print done", body: "benchy", atts: []runtime.Attachment{jpeg, text}},
	{name: "attachments_renamed", url: "json://HOST/?:attachments=files", body: "B", atts: []runtime.Attachment{text}},
	{name: "trailing_slash_before_query", url: "json://HOST/a/b/?method=POST", body: "B"},
	{name: "path_encoding", url: "json://HOST/a%20b/%7Euser/caf%C3%A9/x:y@z", body: "B"},
	{name: "backslash_trimmed", url: "json://HOST/a\\b\\", body: "B"},
	{name: "user_becomes_password", url: "json://secret@HOST/?user=admin", body: "B"},
	{name: "query_decoding", url: "json://HOST/?%2BX-Enc=1&:pct=a%2525b&:pad=%20%20padded%20%20&-sp=x+y", body: "B"},
	// Fixed names redirected to the capture server.
	{name: "https_port", url: "jsons://hooks.example.com:8443/p/?+Authorization=Bearer%20tok", title: "T", body: "B"},
	{name: "default_port_dropped", url: "json://printer.example:80/dot/./x/../y", body: "B"},
	{name: "unnamed_attachment", url: "json://HOST/", body: "B", atts: []runtime.Attachment{{MIME: "application/octet-stream", Data: []byte{1, 2, 3}}}},
}

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"printer.example": cap.URL, "hooks.example.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "json", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "json", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
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
	for _, tc := range []struct {
		url, redacted, err string
		options            map[string]string
	}{
		{url: "json://user:secret@printer.local:8080/hook?+X-Token=abc", redacted: "json://user:****@printer.local:8080/hook"},
		{url: "jsons://bob@[fe80::1]/", redacted: "jsons://bob@[fe80::1]/"},
		{url: "json://192.168.1.5/a/b/?format=markdown", redacted: "json://192.168.1.5/a/b/", options: map[string]string{"format": "markdown"}},
		{url: "json://host/?format=rtf", redacted: "json://host/"},
		{url: "json://", err: "json: the URL names no host; use json://[user[:password]@]host[:port][/path] (jsons:// for https)"},
		{url: "json://bad_host_/", err: `json: "bad_host_" is not a valid host name or address`},
		{url: "json://host:port/", err: `json: "host:port" is not a valid host name or address`},
		{url: "json://host/?method=OPTIONS", err: "json: method=OPTIONS is not one of POST, GET, DELETE, PUT, HEAD, PATCH"},
		{url: "json://host/?port=70000", err: "json: port=70000 is not a port number (1-65535)"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "json", tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if tc.err != "" {
				if vr.OK || !strings.HasPrefix(vr.Error, tc.err) {
					t.Errorf("validate = %+v, want error %q", vr, tc.err)
				}
				return
			}
			if !vr.OK || vr.RedactedURL != tc.redacted || len(vr.Hosts) != 1 || vr.Options["format"] != tc.options["format"] {
				t.Errorf("validate = %+v, want redacted %q options %v", vr, tc.redacted, tc.options)
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
