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

// api.pushbullet.com and upload.pushbullet.com are both redirected to the
// capture server, keeping their Host headers. The goldens were checked
// against Apprise 1.9.8 run on the same input.

var (
	jpeg = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xffJPEGDATA")}
	pdf  = runtime.Attachment{Name: "report.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 fake")}
)

func ok() transporttest.Response {
	return transporttest.Response{Status: 200, Body: `{"active":true,"iden":"ujpah72o0sjAoRtnM0jc","type":"note"}`}
}

// uploadReply is Pushbullet's answer to an upload request, as documented.
func uploadReply(name, mime, id string) transporttest.Response {
	return transporttest.Response{Status: 200, Body: `{"file_name":"` + name + `","file_type":"` + mime +
		`","file_url":"https://dl2.pushbulletusercontent.com/` + id + `/` + name +
		`","upload_url":"https://upload.pushbullet.com/upload-legacy/` + id + `"}`}
}

func engine(t *testing.T) (*transporttest.Capture, *runtime.Engine) {
	cap := transporttest.NewCapture(t)
	cap.Reply(ok())
	return cap, transporttest.Engine(t, map[string]string{apiHost: cap.URL, uploadHost: cap.URL}, transporttest.Guest(t, "."))
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
		name, url, title, body string
		atts                   []runtime.Attachment
		replies                []transporttest.Response
		requests               int
	}{
		{name: "plain", url: "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b", body: "Print finished", requests: 1},
		{name: "title_body", url: "pbul://TOKEN", title: "Voron 2.4", body: "benchy done\n100°C ✓ \"ok\"", requests: 1},
		{name: "targets", url: "pbul://TOKEN/ujpah72o0sjAoRtnM0jc/#printers/user@example.com?to=Label+me@example.org", title: "T", body: "B", requests: 4},
		{name: "channel_in_to", url: "pbul://TOKEN/?to=%23printers", title: "T", body: "B", requests: 1},
		{name: "attachments", url: "pbul://TOKEN", title: "Done", body: "two files", atts: []runtime.Attachment{jpeg, pdf},
			replies:  []transporttest.Response{uploadReply("snapshot.jpg", "image/jpeg", "abc"), ok(), uploadReply("report.pdf", "application/pdf", "def"), ok(), ok()},
			requests: 7},
		{name: "attachment_no_body_two_targets", url: "pbul://TOKEN/dev1/dev2", title: "Done", atts: []runtime.Attachment{jpeg},
			replies: []transporttest.Response{uploadReply("snapshot.jpg", "image/jpeg", "abc"), ok(), ok()}, requests: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			if tc.replies != nil {
				cap.Reply(tc.replies...)
			}
			vr, err := eng.Validate(context.Background(), "pbul", tc.url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "pbul", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", dumpAll(cap))
		})
	}
}

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		name      string
		url       string
		replies   []transporttest.Response
		atts      []runtime.Attachment
		status    string
		permanent bool
		retryS    int
		errText   string
		requests  int
	}{
		{name: "400", replies: []transporttest.Response{{Status: 400, Body: `{"error":{"code":"invalid_request","type":"invalid_request","message":"Invalid device_iden.","cat":"~(=^‥^)ノ"},"error_code":"invalid_request"}`}},
			status: sdk.StatusFailed, permanent: true, errText: "pbul: HTTP 400: Invalid device_iden. (target dev1)", requests: 1},
		{name: "401", replies: []transporttest.Response{{Status: 401, Body: `{"error":{"code":"invalid_access_token","type":"invalid_request","message":"Access token is missing or invalid."}}`}},
			status: sdk.StatusFailed, permanent: true, errText: "Access token is missing or invalid.", requests: 1},
		{name: "500", replies: []transporttest.Response{{Status: 500, Body: "oops"}},
			status: sdk.StatusRetry, errText: "pbul: HTTP 500: oops", requests: 1},
		{name: "429", replies: []transporttest.Response{{Status: 429, Header: map[string]string{"Retry-After": "60"}, Body: `{"error":{"message":"Too many requests."}}`}},
			status: sdk.StatusRetry, retryS: 60, errText: "Too many requests.", requests: 1},
		{name: "first_target_fails_second_sent", url: "pbul://TOKEN/dev1/dev2",
			replies: []transporttest.Response{{Status: 400, Body: `{"error":{"message":"Invalid device_iden."}}`}, ok()},
			status:  sdk.StatusFailed, permanent: true, errText: "Invalid device_iden. (target dev1)", requests: 2},
		{name: "upload_request_bad_answer", atts: []runtime.Attachment{jpeg},
			replies: []transporttest.Response{{Status: 200, Body: `{"file_name":"snapshot.jpg"}`}},
			status:  sdk.StatusFailed, errText: "lacks file_name, file_type, file_url or upload_url", requests: 1},
		{name: "upload_elsewhere", atts: []runtime.Attachment{jpeg},
			replies: []transporttest.Response{{Status: 200, Body: `{"file_name":"a","file_type":"image/jpeg","file_url":"https://x/a","upload_url":"https://s3.example.com/up"}`}},
			status:  sdk.StatusFailed, permanent: true, errText: "to s3.example.com, a host this transport may not contact", requests: 1},
		{name: "upload_fails", atts: []runtime.Attachment{jpeg},
			replies: []transporttest.Response{uploadReply("snapshot.jpg", "image/jpeg", "abc"), {Status: 503, Body: "busy"}},
			status:  sdk.StatusRetry, errText: "HTTP 503: busy (uploading snapshot.jpg)", requests: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			cap.Reply(tc.replies...)
			url := tc.url
			if url == "" {
				url = "pbul://TOKEN/dev1"
			}
			res, err := transporttest.Send(t, eng, "pbul", sdk.SendRequest{URL: url, Body: "x"}, tc.atts...)
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
	transporttest.RunValidate(t, eng, "pbul", []transporttest.Validation{
		{URL: "pbul://o.gn5kj6nfhv736I7jC3cj3QLRiyhgl98b", Redacted: "pbul://****", Hosts: apiHost + "," + uploadHost},
		{URL: "pbul://TOKEN/dev/#chan/a@b.example?format=markdown", Redacted: "pbul://****/%23chan/a@b.example/dev", Hosts: apiHost + "," + uploadHost, Format: "markdown"},
		{URL: "pbul://", Err: "needs your access token"},
		{URL: "pbul://TOKEN?format=rtf", Err: "format=rtf"},
	})
}

func TestEmail(t *testing.T) {
	for in, want := range map[string]string{
		"user@example.com":        "user@example.com",
		"label+user@example.com":  "label+user@example.com",
		"Name:user@example.com":   "user@example.com",
		"ujpah72o0sjAoRtnM0jc":    "",
		"#channel":                "",
		"user@localhost":          "user@localhost",
		"user@host":               "",
		"user@longhostname":       "user@longhostname",
		"first.last@sub.mail.org": "first.last@sub.mail.org",
	} {
		got := ""
		if m := emailRE.FindStringSubmatch(in); m != nil {
			got = m[emailRE.SubexpIndex("full")]
		}
		if got != want {
			t.Errorf("%s: email %q, want %q", in, got, want)
		}
	}
}
