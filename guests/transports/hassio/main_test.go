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
// ha.example.com (an https server) is redirected to it, keeping its Host
// header.

const token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJhYmMifQ.c2lnbmF0dXJl"

// randomID is the notification_id Apprise draws when the URL has no nid.
var randomID = regexp.MustCompile(`"notification_id": "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"`)

func TestGolden(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"ha.example.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range []struct {
		name, url, title, body string
		atts                   []runtime.Attachment
	}{
		{name: "plain", url: "hassio://HOST/" + token + "?nid=printer", body: "Print finished"},
		{name: "title_body", url: "hassio://HOST/" + token + "?nid=printer", title: "Voron 2.4", body: "benchy done\n100°C ✓"},
		{name: "random_id", url: "hassio://HOST/" + token, title: "T", body: "B"},
		{name: "default_port_8123", url: "hassio://ha.example.com/" + token + "?nid=x", body: "x"},
		{name: "https_no_port", url: "hassios://ha.example.com/" + token + "?nid=x", body: "x"},
		{name: "https_port_prefix", url: "hassios://ha.example.com:8443/home/assistant/" + token + "?nid=x", body: "x"},
		{name: "accesstoken_option", url: "hassio://HOST/prefix/?accesstoken=" + token + "&nid=x", body: "x"},
		{name: "user_replaces_bearer", url: "hassio://bob:pw@HOST/" + token + "?nid=x", body: "x"},
		{name: "attachment_dropped", url: "hassio://HOST/" + token + "?nid=x", body: "no files",
			atts: []runtime.Attachment{{Name: "a.jpg", MIME: "image/jpeg", Data: []byte("jpg")}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen := len(cap.Requests())
			url := strings.ReplaceAll(tc.url, "HOST", cap.Host())
			vr, err := eng.Validate(context.Background(), "hassio", url)
			if err != nil || !vr.OK {
				t.Fatalf("validate: %v %+v", err, vr)
			}
			res, err := transporttest.Send(t, eng, "hassio", sdk.SendRequest{URL: url, Title: tc.title, Body: tc.body, NotifyType: "info"}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			if n := len(cap.Requests()) - seen; n != 1 {
				t.Fatalf("%d requests, want 1", n)
			}
			got := cap.Dump(cap.Last(t))
			if !strings.Contains(tc.url, "nid=") {
				if !randomID.Match(got) {
					t.Fatalf("no random uuid4 notification_id in\n%s", got)
				}
				got = randomID.ReplaceAll(got, []byte(`"notification_id": "RANDOM-UUID4"`))
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", got)
		})
	}
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunFailures(t, eng, cap, "hassio", "hassio://HOST/tok", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: `{"message": "Invalid JSON specified."}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "HTTP 400: Invalid JSON specified."},
		{Name: "401", Reply: transporttest.Response{Status: 401, Body: "401: Unauthorized"},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "HTTP 401: 401: Unauthorized"},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "500 Internal Server Error"}, Status: sdk.StatusRetry, ErrText: "HTTP 500"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "60"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 60, ErrText: "slow down"},
	})
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "hassio", []transporttest.Validation{
		{URL: "hassio://homeassistant.local/" + token, Redacted: "hassio://homeassistant.local:8123/****", Hosts: "homeassistant.local"},
		{URL: "hassios://bob:pw@ha.example.com/ha/" + token + "?nid=voron", Redacted: "hassios://bob:****@ha.example.com/ha/****?nid=voron", Hosts: "ha.example.com"},
		{URL: "hassio://ha.local/" + token + "?format=markdown", Redacted: "hassio://ha.local:8123/****", Hosts: "ha.local", Format: "markdown"},
		{URL: "hassio://10.0.0.5:8124?accesstoken=" + token, Redacted: "hassio://10.0.0.5:8124/****", Hosts: "10.0.0.5"},
		{URL: "hassio://homeassistant.local", Err: "no long-lived access token"},
		{URL: "hassio:///" + token, Err: "names no host"},
		{URL: "hassio://homeassistant.local/" + token + "?nid=bad.id", Err: `nid "bad.id" may hold only`},
	})
}

func TestServiceURL(t *testing.T) {
	for raw, want := range map[string]string{
		"hassio://ha/tok":                    "http://ha:8123",
		"hassio://ha:80/tok":                 "http://ha:80",
		"hassios://ha/tok":                   "https://ha",
		"hassios://ha:8443/a/b/tok":          "https://ha:8443/a/b",
		"hassio://ha/a%20b/?accesstoken=tok": "http://ha:8123/a%20b",
	} {
		c, err := parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		scheme := "http://"
		if c.secure {
			scheme = "https://"
		}
		if got := scheme + c.hostPort + c.prefix; got != want {
			t.Errorf("%s: base = %s, want %s", raw, got, want)
		}
	}
}
