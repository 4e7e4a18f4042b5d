package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// HOST in a case's URL is replaced by the capture server's host:port;
// requests to ntfy.sh (cloud mode) and ntfy.example.com (an https server)
// are redirected to it, keeping their Host header.

var (
	png  = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0JFIF-bytes")}
	text = runtime.Attachment{Name: "print.gcode", MIME: "text/x-gcode", Data: []byte("G28\nG1 X10\n")}
)

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"ntfy.sh": cap.URL, "ntfy.example.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		name, url, title, body string
		atts                   []runtime.Attachment
	}{
		{name: "cloud_plain", url: "ntfy://mytopic", body: "Print finished"},
		{name: "cloud_title_body", url: "ntfys://mytopic", title: "Voron 2.4", body: "benchy.gcode done in 1h02m"},
		{name: "native_https", url: "https://ntfy.sh/mytopic", title: "T", body: "B"},
		{name: "native_query_to", url: "https://ntfy.sh?to=alpha,beta&priority=high", body: "two topics"},
		{name: "private_plain", url: "ntfy://HOST/printer", title: "Job", body: "done"},
		{name: "private_https_port_topics", url: "ntfys://ntfy.example.com:8443/zeta/alpha", body: "sent to zeta then alpha"},
		{name: "private_basic_auth", url: "ntfy://bob:s3cret@HOST/printer", body: "auth"},
		{name: "private_user_no_password", url: "ntfy://bob@HOST/printer", body: "requests writes None"},
		{name: "private_token_user", url: "ntfy://tk_abcdef123@HOST/printer", body: "token"},
		{name: "private_token_option", url: "ntfy://HOST/printer?token=tk_xyz", body: "token"},
		{name: "private_auth_token_password", url: "ntfy://bob:tk_pw@HOST/printer?auth=token", body: "token from password"},
		{name: "cloud_ignores_auth", url: "ntfy://bob:s3cret@mytopic", body: "no credentials to ntfy.sh"},
		{name: "options", url: "ntfy://HOST/printer?priority=emergency&tags=warning,skull,warning&click=https://printer.local/&delay=30min&email=me@example.com&actions=view,Open,https://x.y/",
			title: "Error", body: "Thermal runaway"},
		{name: "priority_number", url: "ntfy://HOST/printer?priority=2", body: "low"},
		{name: "priority_default_no_header", url: "ntfy://HOST/printer?priority=default", body: "x"},
		{name: "click_international", url: "ntfy://HOST/printer?click=https://通知の例", body: "x"},
		{name: "avatar_url", url: "ntfy://HOST/printer?avatar_url=https://example.com/i.png", body: "x"},
		{name: "no_image", url: "ntfy://HOST/printer?image=no", body: "x"},
		{name: "attach_url", url: "ntfy://HOST/printer?attach=http://example.com/file.jpg&filename=smoke.jpg", title: "t", body: "b"},
		{name: "markdown", url: "ntfy://HOST/printer?format=markdown", title: "T", body: "**bold**"},
		{name: "unicode_json", url: "ntfy://HOST/printer", title: "État <ok> & \"quoted\"", body: "100°C\n✓ done 😀"},
		{name: "attachments", url: "ntfy://HOST/printer?priority=high", title: "Done", body: "with files", atts: []runtime.Attachment{png, text}},
		{name: "attachment_cloud", url: "ntfy://mytopic", body: "snap", atts: []runtime.Attachment{png}},
		{name: "large_message_as_file", url: "ntfy://bob:pw@HOST/printer", title: "My Title", body: strings.Repeat("b", 8000)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "ntfy", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "ntfy", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", dumpAll(cap, seen))
		})
	}
}

// dumpAll dumps the requests the capture server received after the first
// seen ones, in order.
func dumpAll(cap *transporttest.Capture, seen int) []byte {
	var b bytes.Buffer
	for i, r := range cap.Requests()[seen:] {
		if i > 0 {
			b.WriteString("----\n")
		}
		b.Write(cap.Dump(r))
	}
	return b.Bytes()
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		name      string
		reply     transporttest.Response
		status    string
		permanent bool
		retryS    int
		errText   string
	}{
		{name: "400", reply: transporttest.Response{Status: 400, Body: `{"code":40003,"http":400,"error":"invalid request: topic invalid"}`},
			status: sdk.StatusFailed, permanent: true, errText: "invalid request: topic invalid (HTTP 400, code 40003)"},
		{name: "403", reply: transporttest.Response{Status: 403, Body: `{"code":40301,"http":403,"error":"forbidden"}`},
			status: sdk.StatusFailed, permanent: true, errText: "forbidden"},
		{name: "500", reply: transporttest.Response{Status: 500, Body: "oops"}, status: sdk.StatusRetry, errText: "HTTP 500: oops"},
		{name: "429", reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"code":42901,"http":429,"error":"limit reached: too many requests"}`},
			status: sdk.StatusRetry, retryS: 30, errText: "limit reached"},
		{name: "201_is_not_200", reply: transporttest.Response{Status: 201, Body: "{}"}, status: sdk.StatusFailed, permanent: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap.Reply(tc.reply)
			res, err := transporttest.Send(t, eng, "ntfy", sdk.SendRequest{URL: "ntfy://" + cap.Host() + "/printer", Body: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Permanent != tc.permanent || res.RetryAfterS != tc.retryS || !strings.Contains(res.Error, tc.errText) {
				t.Errorf("result = %+v, want status %s permanent %v retry %d error containing %q", res, tc.status, tc.permanent, tc.retryS, tc.errText)
			}
		})
	}
}

// An attachment upload that fails stops the delivery, as in Apprise.
func TestAttachmentFailureStops(t *testing.T) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 413, Body: `{"code":41301,"http":413,"error":"attachment too large"}`})
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	res, err := transporttest.Send(t, eng, "ntfy", sdk.SendRequest{URL: "ntfy://" + cap.Host() + "/a/b", Body: "x"}, png, text)
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !strings.Contains(res.Error, "attachment too large") {
		t.Errorf("result = %+v", res)
	}
	if n := len(cap.Requests()); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

// A topic that fails does not stop the others; the result is the failure.
func TestTextFailureContinues(t *testing.T) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 500, Body: "down"}, transporttest.Response{Status: 200, Body: "{}"})
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	res, err := transporttest.Send(t, eng, "ntfy", sdk.SendRequest{URL: "ntfy://" + cap.Host() + "/a/b", Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sdk.StatusRetry || !strings.Contains(res.Error, "ntfy topic b") {
		t.Errorf("result = %+v", res)
	}
	if n := len(cap.Requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		url, err, redacted, hosts, format string
	}{
		{url: "ntfy://mytopic", redacted: "ntfys://mytopic", hosts: "ntfy.sh"},
		{url: "https://ntfy.sh/mytopic", redacted: "ntfys://mytopic", hosts: "ntfy.sh"},
		{url: "ntfys://bob:secret@ntfy.example.com:8080/a/b?format=markdown", redacted: "ntfys://bob:****@ntfy.example.com:8080/a/b", hosts: "ntfy.example.com", format: "markdown"},
		{url: "ntfy://tk_abc@10.0.0.2/a", redacted: "ntfy://****@10.0.0.2/a", hosts: "10.0.0.2"},
		{url: "ntfy://host/a?format=bogus", redacted: "ntfy://host/a", hosts: "host"},
		{url: "ntfy://", err: "no topic"},
		{url: "ntfy://host/bad.topic", err: `topic "bad.topic" is not valid`},
		{url: "ntfy://host/a?mode=invalid", err: "mode=invalid is not cloud or private"},
		{url: "ntfy://host/a?auth=oauth", err: "auth=oauth is not basic or token"},
		{url: "ntfy://host/a?auth=token", err: "auth=token needs a token"},
		{url: "ntfy://bad_host!/a?mode=private", err: "is not a host name"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "ntfy", tc.url)
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

func TestBaseURL(t *testing.T) {
	for raw, want := range map[string]string{
		"ntfy://topic":                     "https://ntfy.sh",
		"ntfy://host/topic":                "http://host",
		"ntfys://host:8443/topic":          "https://host:8443",
		"ntfy://ntfy.sh/topic":             "http://ntfy.sh", // private mode, as in Apprise
		"ntfy://user@ntfy.sh/t?mode=cloud": "https://ntfy.sh",
	} {
		c, err := parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := c.base(); got != want {
			t.Errorf("%s: base = %s, want %s", raw, got, want)
		}
	}
}
