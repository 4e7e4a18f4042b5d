package main

import (
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
	transporttest.RunGolden(t, eng, cap, "bark", []transporttest.Case{
		{Name: "plain", URL: "bark://HOST/devicekey1", Body: "Print finished"},
		{Name: "title_body", URL: "bark://HOST/devicekey1", Title: "Voron 2.4", Body: "benchy done\n100°C ✓"},
		{Name: "public_server", URL: "barks://api.day.app/devicekey1", Title: "T", Body: "B"},
		{Name: "several_devices", URL: "bark://HOST/aaa/ccc?to=bbb", Body: "to ccc, bbb, aaa"},
		{Name: "basic_auth", URL: "bark://bob:s3cret@HOST/devicekey1", Body: "auth"},
		{Name: "options", URL: "bark://HOST/devicekey1?sound=bell&level=t&volume=5&click=https://printer.local/&badge=3&category=printer&group=voron&call=yes",
			Title: "Error", Body: "Thermal runaway"},
		{Name: "icon", URL: "bark://HOST/devicekey1?icon=https://example.com/i.png", Body: "x"},
		{Name: "no_image", URL: "bark://HOST/devicekey1?image=no", Body: "x"},
		{Name: "ignored_values", URL: "bark://HOST/devicekey1?sound=nosuch&level=Critical&badge=-1&volume=0", Body: "x"},
		{Name: "volume_out_of_range_sent", URL: "bark://HOST/devicekey1?volume=15", Body: "x"},
		{Name: "markdown", URL: "bark://HOST/devicekey1?format=markdown", Title: "T", Body: "**bold**"},
		{Name: "attachment_dropped", URL: "bark://HOST/devicekey1", Body: "no files",
			Attachments: []runtime.Attachment{{Name: "a.jpg", MIME: "image/jpeg", Data: []byte("jpg")}}},
	})
}

func TestFailures(t *testing.T) {
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunFailures(t, eng, cap, "bark", "bark://HOST/key", []transporttest.Failure{
		{Name: "400", Reply: transporttest.Response{Status: 400, Body: `{"code":400,"message":"failed to get device token: failed to get [x] device token from database","timestamp":1}`},
			Status: sdk.StatusFailed, Permanent: true, ErrText: "HTTP 400: failed to get device token"},
		{Name: "500", Reply: transporttest.Response{Status: 500, Body: "oops"}, Status: sdk.StatusRetry, ErrText: "HTTP 500: oops"},
		{Name: "429", Reply: transporttest.Response{Status: 429, Header: map[string]string{"Retry-After": "7"}, Body: "slow down"},
			Status: sdk.StatusRetry, RetryS: 7, ErrText: "slow down"},
	})
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
	transporttest.RunValidate(t, eng, "bark", []transporttest.Validation{
		{URL: "barks://api.day.app/secretkey", Redacted: "barks://api.day.app/****", Hosts: "api.day.app"},
		{URL: "bark://bob:pw@10.0.0.4:8080/k1/k2?format=markdown", Redacted: "bark://bob:****@10.0.0.4:8080/****/****", Hosts: "10.0.0.4", Format: "markdown"},
		{URL: "bark://bark.local", Err: "no device key"},
		{URL: "bark://bad_host!/key", Err: "is not a host name"},
	})
}
