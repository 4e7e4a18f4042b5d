package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

const (
	host   = "prod-00.westus.logic.azure.com"
	paHost = "default1234abcd.ab.environment.api.powerplatform.com"
)

var accepted = transporttest.Response{Status: 202}

type sendCase struct {
	name, url, title, body string
	replies                []transporttest.Response
	check                  func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request)
}

func sent(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
	t.Helper()
	if !res.OK || res.Status != sdk.StatusSent || len(reqs) != 1 {
		t.Errorf("result %+v after %d requests, want sent with one request", res, len(reqs))
	}
}

func TestSend(t *testing.T) {
	cases := []sendCase{
		{name: "title_body", url: "workflow://" + host + "/a1b2c3d4e5/SIG-abc_123", title: "Print complete", body: "**benchy.gcode** done in 1h ✓\n\n- nozzle 210", replies: []transporttest.Response{accepted}, check: sent},
		{name: "workflows_port_options", url: "workflows://" + host + ":443/a1b2c3d4e5/SIG-abc_123?image=no&wrap=no", title: "T", body: "B", check: sent},
		{name: "body_only_id_sig_options", url: "workflow://" + host + "/?id=a1b2c3d4e5&sig=SIG-abc_123", body: "just the body", check: sent},
		{
			name: "native_url", title: "T", body: "B", check: sent,
			url: "https://" + host + ":443/workflows/a1b2c3d4e5/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIG-abc_123",
		},
		{
			name: "native_power_automate", title: "T", body: "B", check: sent,
			url: "https://" + paHost + "/powerautomate/automations/direct/workflows/a1b2c3d4e5/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=SIG-abc_123",
		},
		{name: "power_automate_option", url: "workflow://" + paHost + "/a1b2c3d4e5/SIG-abc_123?pa=yes", title: "T", body: "B", check: sent},
		{
			name: "bad_request", url: "workflow://" + host + "/a1b2c3d4e5/SIG-abc_123", body: "x",
			replies: []transporttest.Response{{Status: 400, Body: `{"error":{"code":"TriggerRequestFailed","message":"The request failed."}}`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK || !res.Permanent || !strings.Contains(res.Error, "TriggerRequestFailed") {
					t.Errorf("result %+v, want a permanent failure with the service's text", res)
				}
			},
		},
		{
			name: "server_error", url: "workflow://" + host + "/a1b2c3d4e5/SIG-abc_123", body: "x",
			replies: []transporttest.Response{{Status: 503, Body: "unavailable"}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.Status != sdk.StatusRetry || res.Permanent {
					t.Errorf("result %+v, want retry", res)
				}
			},
		},
		{
			name: "rate_limited", url: "workflow://" + host + "/a1b2c3d4e5/SIG-abc_123", body: "x",
			replies: []transporttest.Response{{Status: 429, Body: "slow down", Header: map[string]string{"Retry-After": "30"}}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.Status != sdk.StatusRetry || res.RetryAfterS != 30 {
					t.Errorf("result %+v, want retry after 30 s", res)
				}
			},
		},
		{
			name: "no_content_is_not_success", url: "workflow://" + host + "/a1b2c3d4e5/SIG-abc_123", body: "x",
			replies: []transporttest.Response{{Status: 204}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK {
					t.Errorf("result %+v, want a failure (Apprise accepts only 200 and 202)", res)
				}
			},
		},
	}
	// One engine for all cases; each case reads the requests it caused.
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{host: cap.URL, paHost: cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(cap.Requests())
			cap.Reply(transporttest.Response{Status: 200, Body: "{}", Header: map[string]string{"Content-Type": "application/json"}})
			if tc.replies != nil {
				cap.Reply(tc.replies...)
			}
			res, err := transporttest.Send(t, eng, "workflow", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body, BodyFormat: "markdown", NotifyType: "info"})
			if err != nil {
				t.Fatalf("send: %v", err)
			}
			reqs := cap.Requests()[n:]
			tc.check(t, res, reqs)
			var dump bytes.Buffer
			for i, r := range reqs {
				if i > 0 {
					dump.WriteString("\n=====\n\n")
				}
				dump.Write(cap.Dump(r))
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", dump.Bytes())
		})
	}
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	transporttest.RunValidate(t, eng, "workflow", []transporttest.Validation{
		{URL: "workflow://" + host + "/a1b2c3d4e5/SIG-abc_123", Secret: "SIG", Redacted: "workflow://" + host + "/****/****", Hosts: host, Options: map[string]string{"ver": "2016-06-01", "pa": "no"}},
		{URL: "workflows://" + host + ":8443/a1b2c3d4e5/SIG?format=text", Secret: "SIG", Redacted: "workflow://" + host + ":8443/****/****", Hosts: host, Format: "text"},
		{URL: "https://" + paHost + "/powerautomate/automations/direct/workflows/abc/triggers/manual/paths/invoke?sig=S", Secret: "SIG", Redacted: "workflow://" + paHost + "/****/****", Hosts: paHost, Options: map[string]string{"pa": "yes", "ver": "2022-03-01-preview"}},
		// The errors name the SIGNATURE placeholder, so no Secret for them.
		{URL: "workflow://" + host + "/a1b2c3d4e5", Err: "signature"},
		{URL: "workflow://" + host + "/a1b2c3d4e5/bad.sig", Err: "signature"},
		{URL: "workflow://" + host, Err: "workflow id"},
		{URL: "workflow://bad_/abc/def", Err: "needs the host"},
		{URL: "workflow://" + host + "/a/b?template=/tmp/card.json", Err: "template="},
		{URL: "https://" + host + "/workflows/abc/run", Err: "not a Power Automate workflow URL"},
	})
}
