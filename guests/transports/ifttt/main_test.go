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

// maker.ifttt.com is redirected to the capture server, keeping its Host
// header. The goldens without +/- options were checked against Apprise
// 1.9.8 run on the same input. Apprise 1.9.8 parses +name/-name but, by a
// naming slip in its parse_url (add_token vs add_tokens), never applies
// them; this guest applies them as Apprise documents, so the "overrides"
// goldens show the documented payload, not 1.9.8's.

func engine(t *testing.T) (*transporttest.Capture, *runtime.Engine) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 200, Body: "Congratulations! You've fired the printer_done event"})
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
		name, url, title, body string
		requests               int
	}{
		{name: "plain", url: "ifttt://b7dHrGsXrwzMwEgTKgXKUQ/printer_done", body: "Print finished", requests: 1},
		{name: "title_body", url: "ifttt://KEY/printer_done", title: "Voron 2.4", body: "benchy done\n100°C ✓", requests: 1},
		{name: "user_form_to_sorted", url: "ifttt://KEY@ev_b/ev_a?to=ev_c,ev_a", title: "T", body: "B", requests: 3},
		{name: "native", url: "https://maker.ifttt.com/use/KEY/ev_one/ev_two", title: "T", body: "B", requests: 2},
		{name: "overrides", url: "ifttt://KEY/ev?+Value1=Printer%20one&-value3=&+value4=http://cam/snap.jpg", title: "T", body: "B", requests: 1},
		{name: "native_overrides", url: "https://maker.ifttt.com/use/KEY/ev/?-value1&+extra=x", title: "T", body: "B", requests: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			vr, err := eng.Validate(context.Background(), "ifttt", tc.url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "ifttt", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body, NotifyType: "info"})
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
		status    string
		permanent bool
		retryS    int
		errText   string
		requests  int
	}{
		{name: "401", replies: []transporttest.Response{{Status: 401, Body: `{"errors":[{"message":"You sent an invalid key."}]}`}},
			status: sdk.StatusFailed, permanent: true, errText: "ifttt: HTTP 401: You sent an invalid key. (event ev)", requests: 1},
		{name: "400", replies: []transporttest.Response{{Status: 400, Body: `{"errors":[{"message":"Bad event name"}]}`}},
			status: sdk.StatusFailed, permanent: true, errText: "HTTP 400: Bad event name", requests: 1},
		{name: "500", replies: []transporttest.Response{{Status: 500, Body: "oops"}},
			status: sdk.StatusRetry, errText: "ifttt: HTTP 500: oops", requests: 1},
		{name: "429", replies: []transporttest.Response{{Status: 429, Header: map[string]string{"Retry-After": "90"}, Body: "slow down"}},
			status: sdk.StatusRetry, retryS: 90, errText: "slow down", requests: 1},
		{name: "first_event_fails_second_sent", url: "ifttt://KEY/ev_a/ev_b",
			replies: []transporttest.Response{{Status: 404, Body: `{"errors":[{"message":"not found"}]}`}, {Status: 200}},
			status:  sdk.StatusFailed, permanent: true, errText: "not found (event ev_a)", requests: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap, eng := engine(t)
			cap.Reply(tc.replies...)
			url := tc.url
			if url == "" {
				url = "ifttt://KEY/ev"
			}
			res, err := transporttest.Send(t, eng, "ifttt", sdk.SendRequest{URL: url, Body: "x"})
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
	transporttest.RunValidate(t, eng, "ifttt", []transporttest.Validation{
		{URL: "ifttt://KEY/b/a", Redacted: "ifttt://****/a/b", Hosts: apiHost},
		{URL: "https://maker.ifttt.com/use/KEY/ev?format=html", Redacted: "ifttt://****/ev", Hosts: apiHost, Format: "html"},
		{URL: "ifttt://KEY", Err: "needs at least one event"},
		{URL: "https://maker.ifttt.com/use/KEY", Err: "needs at least one event"},
		{URL: "https://maker.ifttt.com/use/KEY/bad%20event", Err: "not an IFTTT webhook URL"},
		{URL: "ifttt:///ev", Err: "needs your webhook key"},
		{URL: "ifttt://KEY/ev?format=rtf", Err: "format=rtf"},
	})
}
