package main

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// HOST in a case's URL is replaced by the capture server's host:port;
// signal.example.com (an https server) is redirected to it, keeping its
// Host header. The goldens were checked against Apprise 1.9.8 run on the
// same input. Signal has no title: the host merges it into the body
// ("TITLE\r\nBODY") before the guest sees it, so the cases pass merged
// bodies.

var (
	jpeg = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xffJPEGDATA")}
	pdf  = runtime.Attachment{Name: "report.pdf", MIME: "application/pdf", Data: []byte("%PDF-1.4 fake")}
)

func engine(t *testing.T) (*transporttest.Capture, *runtime.Engine) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 201, Body: `{"timestamp":"1700000000000"}`})
	return cap, transporttest.Engine(t, map[string]string{"signal.example.com": cap.URL}, transporttest.Guest(t, "."))
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
		name, url, body string
		atts            []runtime.Attachment
		requests        int
		info            string
	}{
		{name: "plain_to_self", url: "signal://HOST/+15551234567", body: "Print finished", requests: 1},
		{name: "merged_title", url: "signal://HOST/15551234567/15557654321", body: "Voron 2.4\r\nbenchy done 100°C ✓  \n", requests: 1},
		{name: "targets_status", url: "signal://HOST/+1%20555%20123%204567/15557654321/@GroupAbC=/group.xyz_1/bad?status=yes", body: "Done\r\nBody", requests: 3,
			info: "skipped invalid recipient bad"},
		{name: "batch", url: "signal://HOST/15551234567/15557654321/15557654322/@grp?batch=yes", body: "B", requests: 1},
		{name: "from_to_auth", url: "signal://bob:s3cret@HOST/?from=15551234567&to=15557654321,+44%2020%207946%200958", body: "x", requests: 2},
		{name: "user_without_password", url: "signal://bob@HOST/15551234567/15557654321", body: "x", requests: 1},
		{name: "markdown_styled", url: "signal://HOST/15551234567?format=markdown", body: "# T\r\n**bold**", requests: 1},
		{name: "attachments", url: "signal://HOST/15551234567/15557654321", body: "two files", atts: []runtime.Attachment{jpeg, pdf}, requests: 1},
		{name: "https_port", url: "signals://signal.example.com:8443/15551234567", body: "B", requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "signal", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "signal", sdk.SendRequest{URL: url, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if res.Info != tc.info {
				t.Errorf("info = %q, want %q", res.Info, tc.info)
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
		status    string
		permanent bool
		retryS    int
		errText   string
		requests  int
	}{
		{name: "400", replies: []transporttest.Response{{Status: 400, Body: `{"error":"Failed to send message: Unregistered user \"+15557654321\""}`}},
			status: sdk.StatusFailed, permanent: true, errText: `signal: HTTP 400: Failed to send message: Unregistered user "+15557654321" (to +15557654321)`, requests: 1},
		{name: "500", replies: []transporttest.Response{{Status: 500, Body: "oops"}},
			status: sdk.StatusRetry, errText: "signal: HTTP 500: oops", requests: 1},
		{name: "429", replies: []transporttest.Response{{Status: 429, Header: map[string]string{"Retry-After": "20"}, Body: `{"error":"rate limited"}`}},
			status: sdk.StatusRetry, retryS: 20, errText: "rate limited", requests: 1},
		{name: "second_fails_first_sent", url: "signal://HOST/15551234567/15557654321/15557654322",
			replies: []transporttest.Response{{Status: 201}, {Status: 400, Body: `{"error":"Invalid group id"}`}},
			status:  sdk.StatusFailed, permanent: true, errText: "Invalid group id (to +15557654322)", requests: 2},
		{name: "202_not_sent", replies: []transporttest.Response{{Status: 202}},
			status: sdk.StatusFailed, permanent: true, errText: "HTTP 202", requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			cap.Reply(tc.replies...)
			url := tc.url
			if url == "" {
				url = "signal://HOST/15551234567/15557654321"
			}
			url = strings.ReplaceAll(url, "HOST", cap.Host())
			res, err := transporttest.Send(t, eng, "signal", sdk.SendRequest{URL: url, Body: "x"})
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
	transporttest.RunValidate(t, eng, "signal", []transporttest.Validation{
		{URL: "signal://10.0.0.5:8080/+15551234567", Redacted: "signal://10.0.0.5:8080/+15551234567", Hosts: "10.0.0.5"},
		{URL: "signals://bob:pw@signal.local/15551234567/@grp/15557654321?format=markdown",
			Redacted: "signals://bob:****@signal.local/+15551234567/@grp/+15557654321", Hosts: "signal.local", Format: "markdown"},
		{URL: "signal:///15551234567", Err: "needs the host"},
		{URL: "signal://signal.local", Err: "needs the phone number you send from"},
		{URL: "signal://signal.local/12345", Err: `"12345" is not a phone number`},
		{URL: "signal://signal.local/15551234567/bad/worse", Err: "no valid recipient"},
		{URL: "signal://signal.local/15551234567?format=rtf", Err: "format=rtf"},
	})
}

// TestFindPhones compares with Apprise 1.9.8's parse_phone_no() and
// is_phone_no() on the same strings.
func TestFindPhones(t *testing.T) {
	for in, want := range map[string][]string{
		"+1 555 123 4567":                    {"+1 555 123 4567"},
		"15557654321,+44 20 7946 0958":       {"15557654321", "+44 20 7946 0958"},
		"@GroupAbC=":                         {"@GroupAbC="},
		"@abc12345":                          {"12345"},
		"group.abc_12":                       {"group.abc_12"},
		"bad":                                {"bad"},
		"(555) 123-4567 555.123.4567":        {"(555) 123-4567", "4567"},
		"+1-555-123-4567  +1 (555) 765 4321": {"+1-555-123-4567", "+1 (555) 765 4321"},
		"12":                                 {"12"},
		"a1b2c3":                             {"a1b2c3"},
		"+15551234567\n":                     {"+15551234567"},
	} {
		if got := findPhones(in); !reflect.DeepEqual(got, want) {
			t.Errorf("findPhones(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]bool{
		"+1 555 123 4567": true, "5551234567": true, "555123456": false,
		"123456789012345": false, "+ 1 (555) 123-4567 ": true, "555-123-4567x": false,
	} {
		if _, got := phoneNo(in); got != want {
			t.Errorf("phoneNo(%q) = %v, want %v", in, got, want)
		}
	}
}
