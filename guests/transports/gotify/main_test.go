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
	transporttest.RunFailures(t, eng, cap, "gotify", "gotify://HOST/tok", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: `{"error":"Bad Request","errorCode":400,"errorDescription":"Field 'message' is required"}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "HTTP 400: Bad Request: Field 'message' is required"},
		{Name: "401", Reply: transporttest.Response{Status: 401, Body: `{"error":"Unauthorized","errorCode":401,"errorDescription":"you need to provide a valid access token or user credentials to access this api"}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "valid access token"},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "oops"}, Status: sdk.StatusRetry, ErrText: "HTTP 500: oops"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "12"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 12, ErrText: "slow down"},
	})
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "gotify", []transporttest.Validation{
		{URL: "gotify://gotify.local/AbCdEf123", Redacted: "gotify://gotify.local/****", Hosts: "gotify.local"},
		{URL: "gotifys://10.0.0.3:8080/sub/path/AbCdEf123?format=markdown", Redacted: "gotifys://10.0.0.3:8080/sub/path/****", Hosts: "10.0.0.3", Format: "markdown"},
		{URL: "gotify://gotify.local", Err: "no application token"},
		{URL: "gotify://bad_host!/tok", Err: "is not a host name"},
	})
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
