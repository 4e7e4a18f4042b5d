package main

import (
	"context"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

// HOST in a case's URL is replaced by the capture server's host:port;
// gotify.example.com (an https server) is redirected to it, keeping its
// Host header.

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"gotify.example.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		name, url, title, body string
		atts                   []runtime.Attachment
	}{
		{name: "plain", url: "gotify://HOST/AbCdEf123", body: "Print finished"},
		{name: "title_body", url: "gotify://HOST/AbCdEf123", title: "Voron 2.4", body: "benchy done\n100°C ✓"},
		{name: "https_port_path", url: "gotifys://gotify.example.com:8443/gotify/AbCdEf123", title: "T", body: "B"},
		{name: "priority_high", url: "gotify://HOST/AbCdEf123?priority=high", body: "x"},
		{name: "priority_10", url: "gotify://HOST/AbCdEf123?priority=10", body: "x"},
		{name: "priority_1", url: "gotify://HOST/AbCdEf123?priority=1", body: "x"},
		{name: "priority_unknown", url: "gotify://HOST/AbCdEf123?priority=urgent", body: "x"},
		{name: "markdown", url: "gotify://HOST/AbCdEf123?format=markdown", title: "T", body: "**bold**"},
		{name: "attachment_dropped", url: "gotify://HOST/AbCdEf123", body: "no files",
			atts: []runtime.Attachment{{Name: "a.jpg", MIME: "image/jpeg", Data: []byte("jpg")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "gotify", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "gotify", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()) - seen; n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", cap.Dump(cap.Last(t)))
		})
	}
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
		{name: "400", reply: transporttest.Response{Status: 400, Body: `{"error":"Bad Request","errorCode":400,"errorDescription":"Field 'message' is required"}`},
			status: sdk.StatusFailed, permanent: true, errText: "HTTP 400: Bad Request: Field 'message' is required"},
		{name: "401", reply: transporttest.Response{Status: 401, Body: `{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token or user credentials to access this api"}`},
			status: sdk.StatusFailed, permanent: true, errText: "valid access token"},
		{name: "500", reply: transporttest.Response{Status: 500, Body: "oops"}, status: sdk.StatusRetry, errText: "HTTP 500: oops"},
		{name: "429", reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "12"}, Body: "slow down"},
			status: sdk.StatusRetry, retryS: 12, errText: "slow down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cap.Reply(tc.reply)
			res, err := transporttest.Send(t, eng, "gotify", sdk.SendRequest{URL: "gotify://" + cap.Host() + "/tok", Body: "x"})
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
		{url: "gotify://gotify.local/AbCdEf123", redacted: "gotify://gotify.local/****", hosts: "gotify.local"},
		{url: "gotifys://10.0.0.3:8080/sub/path/AbCdEf123?format=markdown", redacted: "gotifys://10.0.0.3:8080/sub/path/****", hosts: "10.0.0.3", format: "markdown"},
		{url: "gotify://gotify.local", err: "no application token"},
		{url: "gotify://bad_host!/tok", err: "is not a host name"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			vr, err := eng.Validate(context.Background(), "gotify", tc.url)
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

func TestURL(t *testing.T) {
	for raw, want := range map[string]string{
		"gotify://host/tok":              "http://host/message",
		"gotifys://host:8443/a/b/tok":    "https://host:8443/a/b/message",
		"gotify://host/with%20space/tok": "http://host/with%20space/message",
	} {
		c, err := parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if got := c.url(); got != want {
			t.Errorf("%s: url = %s, want %s", raw, got, want)
		}
	}
}
