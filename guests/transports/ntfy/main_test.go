package main

import (
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
	transporttest.RunGolden(t, eng, cap, "ntfy", []transporttest.Case{
		{Name: "cloud_plain", URL: "ntfy://mytopic", Body: "Print finished"},
		{Name: "cloud_title_body", URL: "ntfys://mytopic", Title: "Voron 2.4", Body: "benchy.gcode done in 1h02m"},
		{Name: "native_https", URL: "https://ntfy.sh/mytopic", Title: "T", Body: "B"},
		{Name: "native_query_to", URL: "https://ntfy.sh?to=alpha,beta&priority=high", Body: "two topics"},
		{Name: "private_plain", URL: "ntfy://HOST/printer", Title: "Job", Body: "done"},
		{Name: "private_https_port_topics", URL: "ntfys://ntfy.example.com:8443/zeta/alpha", Body: "sent to zeta then alpha"},
		{Name: "private_basic_auth", URL: "ntfy://bob:s3cret@HOST/printer", Body: "auth"},
		{Name: "private_user_no_password", URL: "ntfy://bob@HOST/printer", Body: "requests writes None"},
		{Name: "private_token_user", URL: "ntfy://tk_abcdef123@HOST/printer", Body: "token"},
		{Name: "private_token_option", URL: "ntfy://HOST/printer?token=tk_xyz", Body: "token"},
		{Name: "private_auth_token_password", URL: "ntfy://bob:tk_pw@HOST/printer?auth=token", Body: "token from password"},
		{Name: "cloud_ignores_auth", URL: "ntfy://bob:s3cret@mytopic", Body: "no credentials to ntfy.sh"},
		{Name: "options", URL: "ntfy://HOST/printer?priority=emergency&tags=warning,skull,warning&click=https://printer.local/&delay=30min&email=me@example.com&actions=view,Open,https://x.y/",
			Title: "Error", Body: "Thermal runaway"},
		{Name: "priority_number", URL: "ntfy://HOST/printer?priority=2", Body: "low"},
		{Name: "priority_default_no_header", URL: "ntfy://HOST/printer?priority=default", Body: "x"},
		{Name: "click_international", URL: "ntfy://HOST/printer?click=https://通知の例", Body: "x"},
		{Name: "avatar_url", URL: "ntfy://HOST/printer?avatar_url=https://example.com/i.png", Body: "x"},
		{Name: "no_image", URL: "ntfy://HOST/printer?image=no", Body: "x"},
		{Name: "attach_url", URL: "ntfy://HOST/printer?attach=http://example.com/file.jpg&filename=smoke.jpg", Title: "t", Body: "b"},
		{Name: "markdown", URL: "ntfy://HOST/printer?format=markdown", Title: "T", Body: "**bold**"},
		{Name: "unicode_json", URL: "ntfy://HOST/printer", Title: "État <ok> & \"quoted\"", Body: "100°C\n✓ done 😀"},
		{Name: "attachments", URL: "ntfy://HOST/printer?priority=high", Title: "Done", Body: "with files", Attachments: []runtime.Attachment{png, text}},
		{Name: "attachment_cloud", URL: "ntfy://mytopic", Body: "snap", Attachments: []runtime.Attachment{png}},
		{Name: "large_message_as_file", URL: "ntfy://bob:pw@HOST/printer", Title: "My Title", Body: strings.Repeat("b", 8000)},
	})
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunFailures(t, eng, cap, "ntfy", "ntfy://HOST/printer", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: `{"code":40003,"http":400,"error":"invalid request: topic invalid"}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "invalid request: topic invalid (HTTP 400, code 40003)"},
		{Name: "403", Reply: transporttest.Response{Status: 403, Body: `{"code":40301,"http":403,"error":"forbidden"}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "forbidden"},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "oops"}, Status: sdk.StatusRetry, ErrText: "HTTP 500: oops"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"code":42901,"http":429,"error":"limit reached: too many requests"}`},
			Status: sdk.StatusRetry, RetryS: 30, ErrText: "limit reached"},
		{Name: "201_is_not_200", Reply: transporttest.Response{Status: 201, Body: "{}"}, Status: sdk.StatusFailed, Permanent: true},
	})
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
	transporttest.RunValidate(t, eng, "ntfy", []transporttest.Validation{
		{URL: "ntfy://mytopic", Redacted: "ntfys://mytopic", Hosts: "ntfy.sh"},
		{URL: "https://ntfy.sh/mytopic", Redacted: "ntfys://mytopic", Hosts: "ntfy.sh"},
		{URL: "ntfys://bob:secret@ntfy.example.com:8080/a/b?format=markdown", Redacted: "ntfys://bob:****@ntfy.example.com:8080/a/b", Hosts: "ntfy.example.com", Format: "markdown"},
		{URL: "ntfy://tk_abc@10.0.0.2/a", Redacted: "ntfy://****@10.0.0.2/a", Hosts: "10.0.0.2"},
		{URL: "ntfy://host/a?format=bogus", Redacted: "ntfy://host/a", Hosts: "host"},
		{URL: "ntfy://", Err: "no topic"},
		{URL: "ntfy://host/bad.topic", Err: `topic "bad.topic" is not valid`},
		{URL: "ntfy://host/a?mode=invalid", Err: "mode=invalid is not cloud or private"},
		{URL: "ntfy://host/a?auth=oauth", Err: "auth=oauth is not basic or token"},
		{URL: "ntfy://host/a?auth=token", Err: "auth=token needs a token"},
		{URL: "ntfy://bad_host!/a?mode=private", Err: "is not a host name"},
	})
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
