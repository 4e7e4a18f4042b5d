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
	for _, tc := range []struct {
		name      string
		reply     transporttest.Response
		status    string
		permanent bool
		retryS    int
		errText   string
	}{
		{name: "400", reply: transporttest.Response{Status: 400, Body: `{"error":"An invalid payload was specified."}`},
			status: sdk.StatusFailed, permanent: true, errText: "apprise: HTTP 400: An invalid payload was specified."},
		{name: "404", reply: transporttest.Response{Status: 404, Body: `{"error":"There was no configuration found."}`},
			status: sdk.StatusFailed, permanent: true, errText: "HTTP 404: There was no configuration found."},
		{name: "424", reply: transporttest.Response{Status: 424, Body: `{"error":"One or more notification could not be sent."}`},
			status: sdk.StatusFailed, errText: "HTTP 424: One or more notification could not be sent."},
		{name: "500", reply: transporttest.Response{Status: 500, Body: "oops"},
			status: sdk.StatusRetry, errText: "apprise: HTTP 500: oops"},
		{name: "429", reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "15"}, Body: "slow down"},
			status: sdk.StatusRetry, retryS: 15, errText: "slow down"},
		{name: "204_not_sent", reply: transporttest.Response{Status: 204},
			status: sdk.StatusFailed, permanent: true, errText: "HTTP 204"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			cap.Reply(tc.reply)
			res, err := transporttest.Send(t, eng, "apprise", sdk.SendRequest{URL: "apprise://" + cap.Host() + "/abc123", Body: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Permanent != tc.permanent || res.RetryAfterS != tc.retryS || !strings.Contains(res.Error, tc.errText) {
				t.Errorf("result = %+v, want status %s permanent %v retry %d error containing %q", res, tc.status, tc.permanent, tc.retryS, tc.errText)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		url, err, redacted, hosts, format string
	}{
		{url: "apprise://apprise.local:8000/abc123", redacted: "apprise://apprise.local:8000/****", hosts: "apprise.local"},
		{url: "apprises://bob:pw@10.0.0.2/sub/abc123?format=html", redacted: "apprises://bob:****@10.0.0.2/sub/****", hosts: "10.0.0.2", format: "html"},
		{url: "apprise://apprise.local", err: "needs the configuration key"},
		{url: "apprise://bad_host_/abc", err: "is not a host name"},
		{url: "apprise://apprise.local/bad.key", err: `key "bad.key" must be`},
		{url: "apprise://apprise.local/abc?method=xml", err: "method=xml is not form or json"},
		{url: "apprise://apprise.local/abc?+Bad%20Header=x", err: "is not a valid HTTP header name"},
		{url: "apprise://apprise.local/abc?format=rtf", err: "format=rtf"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "apprise", tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if tc.err != "" {
				if vr.OK || !strings.Contains(vr.Error, tc.err) {
					t.Errorf("validate = %+v, want error containing %q", vr, tc.err)
				}
				return
			}
			if !vr.OK || vr.RedactedURL != tc.redacted || strings.Join(vr.Hosts, ",") != tc.hosts || vr.Options["format"] != tc.format {
				t.Errorf("validate = %+v, want redacted %q hosts %q format %q", vr, tc.redacted, tc.hosts, tc.format)
			}
		})
	}
}

func TestUUID(t *testing.T) {
	a, b := newUUID(), newUUID()
	if !uuidRE.MatchString(a) || a == b || len(a) != 36 {
		t.Errorf("newUUID() = %q, %q", a, b)
	}
}
