package main

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// HOST in a case's URL is replaced by the capture server's host:port;
// apprise.example.com (an https server) is redirected to it, keeping its
// Host header. The X-Apprise-ID header is random per guest instance and is
// written as UUID in the goldens. The goldens were checked against Apprise
// 1.9.8 run on the same input, except json_tags: 1.9.8 fails before sending
// when method=json has tags.

var (
	jpeg = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xffJPEGDATA")}
	pdf  = runtime.Attachment{Name: "report.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 fake")}
)

var uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)

func engine(t *testing.T) (*transporttest.Capture, *runtime.Engine) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 200, Body: `{"success":true}`})
	return cap, transporttest.Engine(t, map[string]string{"apprise.example.com": cap.URL}, transporttest.Guest(t, "."))
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name, url, title, body string
		atts                   []runtime.Attachment
	}{
		{name: "plain", url: "apprise://HOST/abc123", body: "Print finished"},
		{name: "path_tags_headers", url: "apprise://HOST/path/to/abc123?tags=printer,b,a&+X-Custom=v&+x-token=secret%20value", title: "Voron 2.4", body: "benchy done\n100°C ✓ & more"},
		{name: "key_in_to", url: "apprise://HOST/apprise?to=abc123", title: "T", body: "B"},
		{name: "format_markdown", url: "apprise://HOST/abc123?format=markdown", title: "T", body: "**bold**"},
		{name: "form_attachments", url: "apprise://HOST/abc123?tags=a", title: "Done", body: "two files", atts: []runtime.Attachment{jpeg, pdf}},
		{name: "json", url: "apprise://HOST/abc123?method=json", title: "Voron 2.4", body: "benchy done\n100°C ✓"},
		{name: "json_attachments", url: "apprise://HOST/abc123?method=JSON", title: "Done", body: "two files", atts: []runtime.Attachment{jpeg, pdf}},
		{name: "json_tags", url: "apprise://HOST/abc123?method=json&tags=b,a", title: "T", body: "B"},
		{name: "auth", url: "apprise://admin:p%40ss@HOST/abc123", body: "B"},
		{name: "auth_user_only", url: "apprise://admin@HOST/abc123", body: "B"},
		{name: "https_port_path", url: "apprises://apprise.example.com:8443/apprise/abc123", body: "B"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "apprise", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "apprise", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()); n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			r := cap.Last(t)
			if id := r.Header.Get("X-Apprise-ID"); !uuidRE.MatchString(id) {
				t.Errorf("X-Apprise-ID %q is not a UUID4", id)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", uuidRE.ReplaceAll(cap.Dump(r), []byte("UUID")))
		})
	}
}

func TestFailures(t *testing.T) {
	cap, eng := engine(t)
	transporttest.RunFailures(t, eng, cap, "apprise", "apprise://HOST/abc123", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: `{"error":"An invalid payload was specified."}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "apprise: HTTP 400: An invalid payload was specified."},
		{Name: "404", Reply: transporttest.Response{Status: 404, Body: `{"error":"There was no configuration found."}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "HTTP 404: There was no configuration found."},
		{Name: "424", Reply: transporttest.Response{Status: 424, Body: `{"error":"One or more notification could not be sent."}`},
			Status: sdk.StatusFailed, ErrText: "HTTP 424: One or more notification could not be sent."},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "oops"},
			Status: sdk.StatusRetry, ErrText: "apprise: HTTP 500: oops"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "15"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 15, ErrText: "slow down"},
		{Name: "204_not_sent", Reply: transporttest.Response{Status: 204},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "HTTP 204"},
	})
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "apprise", []transporttest.Validation{
		{URL: "apprise://apprise.local:8000/abc123", Redacted: "apprise://apprise.local:8000/****", Hosts: "apprise.local"},
		{URL: "apprises://bob:pw@10.0.0.2/sub/abc123?format=html", Redacted: "apprises://bob:****@10.0.0.2/sub/****", Hosts: "10.0.0.2", Format: "html"},
		{URL: "apprise://apprise.local", Err: "needs the configuration key"},
		{URL: "apprise://bad_host_/abc", Err: "is not a host name"},
		{URL: "apprise://apprise.local/bad.key", Err: `key "bad.key" must be`},
		{URL: "apprise://apprise.local/abc?method=xml", Err: "method=xml is not form or json"},
		{URL: "apprise://apprise.local/abc?+Bad%20Header=x", Err: "is not a valid HTTP header name"},
		{URL: "apprise://apprise.local/abc?format=rtf", Err: "format=rtf"},
	})
}

func TestUUID(t *testing.T) {
	a, b := newUUID(), newUUID()
	if !uuidRE.MatchString(a) || a == b || len(a) != 36 {
		t.Errorf("newUUID() = %q, %q", a, b)
	}
}
