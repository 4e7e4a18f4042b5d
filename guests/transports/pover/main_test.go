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

// api.pushover.net is redirected to the capture server, keeping its Host
// header. The goldens were checked against Apprise 1.9.8 run on the same
// input (form field order, basic auth, multipart layout).

var (
	jpeg = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xffJPEGDATA")}
	png  = runtime.Attachment{Name: "apprise-attachment.png", MIME: "image/png", Data: []byte("\x89PNG\r\n")}
	pdf  = runtime.Attachment{Name: "report.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 fake")}
)

func engine(t *testing.T) (*transporttest.Capture, *runtime.Engine) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 200, Body: `{"status":1,"request":"e460545a-8e5d-4f2e-9b2b-d4b4c8b0c3b5"}`})
	return cap, transporttest.Engine(t, map[string]string{apiHost: cap.URL}, transporttest.Guest(t, "."))
}

// dumpAll writes every captured request, in order.
func dumpAll(cap *transporttest.Capture) []byte {
	var b bytes.Buffer
	for i, r := range cap.Requests() {
		if i > 0 {
			b.WriteString("\n==== next request ====\n\n")
		}
		b.Write(cap.Dump(r))
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name, url, title, body, bodyFormat string
		atts                               []runtime.Attachment
		requests                           int
		info                               string
	}{
		{name: "plain", url: "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi", body: "Print finished"},
		{name: "title_body", url: "pover://USERKEY@APPTOKEN", title: "Voron 2.4", body: "benchy done\n100°C ✓ & more"},
		{name: "devices_options", url: "pover://USERKEY@APPTOKEN/tablet/phone?priority=high&sound=Siren&url=http://printer.local/%3Fa%3Db&url_title=Open%20Mainsail", title: "T", body: "B"},
		{name: "to_option_invalid_dropped", url: "pover://USERKEY@APPTOKEN/phone?to=tablet,not.valid", body: "B", info: "skipped invalid device not.valid"},
		{name: "priority_low_number", url: "pover://USERKEY@APPTOKEN?priority=-2", body: "B"},
		{name: "emergency", url: "pover://USERKEY@APPTOKEN?priority=emergency&retry=60&expire=7200", body: "B"},
		{name: "emergency_defaults", url: "pover://USERKEY@APPTOKEN?priority=2&retry=abc", body: "B"},
		{name: "format_html", url: "pover://USERKEY@APPTOKEN?format=html", bodyFormat: "html", title: "T", body: "<b>done</b>"},
		{name: "format_html_text_body", url: "pover://USERKEY@APPTOKEN?format=html", bodyFormat: "text", body: "a < b & \"c\"\nnext\tline"},
		{name: "format_markdown", url: "pover://USERKEY@APPTOKEN?format=markdown", bodyFormat: "html", body: "<p><strong>bold</strong></p>"},
		{name: "image", url: "pover://USERKEY@APPTOKEN", title: "Done", body: "snapshot attached", atts: []runtime.Attachment{jpeg}},
		{name: "image_no_body", url: "pover://USERKEY@APPTOKEN", title: "Done", atts: []runtime.Attachment{jpeg}},
		{name: "image_pdf_image", url: "pover://USERKEY@APPTOKEN/phone", title: "Done", body: "three files",
			atts: []runtime.Attachment{jpeg, pdf, png}, requests: 3, info: "report.pdf not attached: it is application/pdf and Pushover accepts only images"},
		{name: "pdf_first", url: "pover://USERKEY@APPTOKEN", title: "Done", body: "the report",
			atts: []runtime.Attachment{pdf}, info: "report.pdf not attached: it is application/pdf and Pushover accepts only images"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			vr, err := eng.Validate(context.Background(), "pover", tc.url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "pover", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body, BodyFormat: tc.bodyFormat, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if res.Info != tc.info {
				t.Errorf("info = %q, want %q", res.Info, tc.info)
			}
			want := tc.requests
			if want == 0 {
				want = 1
			}
			if n := len(cap.Requests()); n != want {
				t.Fatalf("%d requests, want %d", n, want)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", dumpAll(cap))
		})
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		reply     transporttest.Response
		atts      []runtime.Attachment
		status    string
		permanent bool
		retryS    int
		errText   string
		requests  int
	}{
		{name: "400", reply: transporttest.Response{Status: 400, Body: `{"user":"invalid","errors":["user identifier is not a valid user, group, or subscribed user key"],"status":0,"request":"5042853c"}`},
			status: sdk.StatusFailed, permanent: true, errText: "pover: HTTP 400: user identifier is not a valid user, group, or subscribed user key", requests: 1},
		{name: "401", reply: transporttest.Response{Status: 401, Body: ``},
			status: sdk.StatusFailed, permanent: true, errText: "pover: HTTP 401: Unauthorized - Invalid Token.", requests: 1},
		{name: "500", reply: transporttest.Response{Status: 500, Body: "Internal Server Error"},
			status: sdk.StatusRetry, errText: "pover: HTTP 500: Internal Server Error", requests: 1},
		{name: "429", reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"errors":["message limit reached"],"status":0}`},
			status: sdk.StatusRetry, retryS: 30, errText: "message limit reached", requests: 1},
		{name: "200_status_0", reply: transporttest.Response{Status: 200, Body: `{"errors":["application token is invalid"],"status":0}`},
			status: sdk.StatusFailed, permanent: true, errText: "application token is invalid", requests: 1},
		{name: "first_attachment_fails", reply: transporttest.Response{Status: 413, Body: `{"errors":["attachment is too large"],"status":0}`},
			atts: []runtime.Attachment{jpeg, png}, status: sdk.StatusFailed, errText: "HTTP 413: attachment is too large", requests: 1},
		{name: "image_too_big", atts: []runtime.Attachment{{Name: "huge.jpg", MIME: "image/jpeg", Data: bytes.Repeat([]byte{'x'}, maxImage+1)}},
			status: sdk.StatusFailed, permanent: true, errText: "huge.jpg is 5242881 bytes", requests: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			if tc.reply.Status != 0 {
				cap.Reply(tc.reply)
			}
			res, err := transporttest.Send(t, eng, "pover", sdk.SendRequest{URL: "pover://USERKEY@APPTOKEN", Body: "x"}, tc.atts...)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Permanent != tc.permanent || res.RetryAfterS != tc.retryS || !strings.Contains(res.Error, tc.errText) {
				t.Errorf("result = %+v, want status %s permanent %v retry %d error containing %q", res, tc.status, tc.permanent, tc.retryS, tc.errText)
			}
			if n := len(cap.Requests()); n != tc.requests {
				t.Errorf("%d requests, want %d", n, tc.requests)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "pover", []transporttest.Validation{
		{URL: "pover://USERKEY@APPTOKEN", Redacted: "pover://****@****", Hosts: apiHost},
		{URL: "pover://USERKEY@APPTOKEN/phone/tablet?format=markdown", Redacted: "pover://****@****/phone/tablet", Hosts: apiHost, Format: "html"},
		{URL: "pover://USERKEY@APPTOKEN?format=html", Redacted: "pover://****@****", Hosts: apiHost, Format: "html"},
		{URL: "pover://APPTOKEN", Err: "needs your user key"},
		{URL: "pover://USERKEY@", Err: "needs the application token"},
		{URL: "pover://USERKEY@APPTOKEN/bad.device", Err: "no valid device"},
		{URL: "pover://USERKEY@APPTOKEN?priority=emergency&retry=10", Err: "at least 30 seconds"},
		{URL: "pover://USERKEY@APPTOKEN?priority=emergency&expire=20000", Err: "0 to 10800"},
		{URL: "pover://USERKEY@APPTOKEN?format=rtf", Err: "format=rtf"},
	})
}

func TestPriority(t *testing.T) {
	for in, want := range map[string]int{
		"low": -2, "MODERATE": -1, "normal": 0, "high": 1, "emergency": 2, "e": 2,
		"-2": -2, "-1": -1, "0": 0, "1": 1, "2": 2, "10": 1, "urgent": 0, "": 0,
	} {
		c, err := parse("pover://u@t?priority=" + in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if c.priority != want {
			t.Errorf("priority=%s: %d, want %d", in, c.priority, want)
		}
	}
}
