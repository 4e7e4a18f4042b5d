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
// api.day.app (the public Bark server, https) is redirected to it, keeping
// its Host header.

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"api.day.app": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		name, url, title, body string
		atts                   []runtime.Attachment
	}{
		{name: "plain", url: "bark://HOST/devicekey1", body: "Print finished"},
		{name: "title_body", url: "bark://HOST/devicekey1", title: "Voron 2.4", body: "benchy done\n100°C ✓"},
		{name: "public_server", url: "barks://api.day.app/devicekey1", title: "T", body: "B"},
		{name: "several_devices", url: "bark://HOST/aaa/ccc?to=bbb", body: "to ccc, bbb, aaa"},
		{name: "basic_auth", url: "bark://bob:s3cret@HOST/devicekey1", body: "auth"},
		{name: "options", url: "bark://HOST/devicekey1?sound=bell&level=t&volume=5&click=https://printer.local/&badge=3&category=printer&group=voron&call=yes",
			title: "Error", body: "Thermal runaway"},
		{name: "icon", url: "bark://HOST/devicekey1?icon=https://example.com/i.png", body: "x"},
		{name: "no_image", url: "bark://HOST/devicekey1?image=no", body: "x"},
		{name: "ignored_values", url: "bark://HOST/devicekey1?sound=nosuch&level=Critical&badge=-1&volume=0", body: "x"},
		{name: "volume_out_of_range_sent", url: "bark://HOST/devicekey1?volume=15", body: "x"},
		{name: "markdown", url: "bark://HOST/devicekey1?format=markdown", title: "T", body: "**bold**"},
		{name: "attachment_dropped", url: "bark://HOST/devicekey1", body: "no files",
			atts: []runtime.Attachment{{Name: "a.jpg", MIME: "image/jpeg", Data: []byte("jpg")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "bark", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "bark", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
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
		{name: "400", reply: transporttest.Response{Status: 400, Body: `{"code":400,"message":"failed to get device token: failed to get [x] device token from database","timestamp":1}`},
			status: sdk.StatusFailed, permanent: true, errText: "HTTP 400: failed to get device token"},
		{name: "500", reply: transporttest.Response{Status: 500, Body: "oops"}, status: sdk.StatusRetry, errText: "HTTP 500: oops"},
		{name: "429", reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: "slow down"},
			status: sdk.StatusRetry, retryS: 7, errText: "slow down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap.Reply(tc.reply)
			res, err := transporttest.Send(t, eng, "bark", sdk.SendRequest{URL: "bark://" + cap.Host() + "/key", Body: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != tc.status || res.Permanent != tc.permanent || res.RetryAfterS != tc.retryS || !strings.Contains(res.Error, tc.errText) {
				t.Errorf("result = %+v, want status %s permanent %v retry %d error containing %q", res, tc.status, tc.permanent, tc.retryS, tc.errText)
			}
		})
	}
}

// A device that fails does not stop the others; the result is the failure.
func TestFailureContinues(t *testing.T) {
	cap := transporttest.NewCapture(t)
	cap.Reply(transporttest.Response{Status: 400, Body: `{"code":400,"message":"bad key"}`}, transporttest.Response{Status: 200, Body: "{}"})
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	res, err := transporttest.Send(t, eng, "bark", sdk.SendRequest{URL: "bark://" + cap.Host() + "/a/b", Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !res.Permanent || !strings.Contains(res.Error, "bark device 1 of 2: HTTP 400: bad key") {
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
		{url: "barks://api.day.app/secretkey", redacted: "barks://api.day.app/****", hosts: "api.day.app"},
		{url: "bark://bob:pw@10.0.0.4:8080/k1/k2?format=markdown", redacted: "bark://bob:****@10.0.0.4:8080/****/****", hosts: "10.0.0.4", format: "markdown"},
		{url: "bark://bark.local", err: "no device key"},
		{url: "bark://bad_host!/key", err: "is not a host name"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "bark", tc.url)
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
