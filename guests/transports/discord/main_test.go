package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

const hook = "1234567890/AbC-dEf_123"

var (
	jpeg      = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xffJPEGDATA\x00\x01")}
	gcode     = runtime.Attachment{Name: "benchy.gcode", MIME: "text/x-gcode", Data: []byte("G28\nG1 X10\n")}
	noContent = transporttest.Response{Status: 204}
)

type sendCase struct {
	name, url, title, body string
	atts                   []runtime.Attachment
	replies                []transporttest.Response
	check                  func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request)
}

func sent(n int) func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
	return func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
		t.Helper()
		if !res.OK || res.Status != sdk.StatusSent {
			t.Errorf("result %+v, want sent", res)
		}
		if len(reqs) != n {
			t.Errorf("%d requests, want %d", len(reqs), n)
		}
	}
}

func TestSend(t *testing.T) {
	sections := "Summary line\n"
	for _, s := range []string{"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L"} {
		sections += "## Section " + s + "\nvalue " + s + "\n"
	}
	cases := []sendCase{
		{name: "title_body", url: "discord://" + hook, title: "Print complete", body: "benchy.gcode done in 1h <fast> & \"clean\" ✓", check: sent(1)},
		{name: "body_only", url: "discord://" + hook, body: "hello", replies: []transporttest.Response{noContent}, check: sent(1)},
		{name: "native_url", url: "https://discord.com/api/webhooks/" + hook + "?tts=yes&avatar=no", title: "T", body: "B", check: sent(1)},
		{name: "native_discordapp", url: "https://discordapp.com/api/webhooks/" + hook, title: "T", body: "B", check: sent(1)},
		{name: "botname_avatar_flags", url: "discord://Voron@" + hook + "?avatar_url=https://example.com/a.png&flags=4096", title: "T", body: "B", check: sent(1)},
		{
			name: "markdown_embed", url: "discord://" + hook + "?format=markdown&footer=yes&image=yes&href=https://printer.local/",
			title: "Done", body: "Layer report\n# Temps\nnozzle 210\nbed 60\n# Time\n1h 2m\n#", check: sent(1),
		},
		{name: "markdown_fields_off", url: "discord://" + hook + "?format=markdown&fields=no&footer_logo=no&footer=yes", title: "Done", body: "Text\n# Temps\nnozzle 210", check: sent(1)},
		{name: "thread_implies_markdown", url: "discord://" + hook + "?thread=9988", title: "Done", body: "in the thread", check: sent(1)},
		{name: "many_fields", url: "discord://" + hook + "?thread=9988", title: "Report", body: sections, check: sent(2)},
		{name: "ping_text", url: "discord://" + hook + "?ping=<@123>,<@%26456>,@here", title: "T", body: "B", check: sent(1)},
		{name: "ping_markdown_detect", url: "discord://" + hook + "?format=markdown", title: "T", body: "hey <@42> and @everyone", check: sent(1)},
		{name: "attachments", url: "discord://Voron@" + hook + "?tts=yes", title: "Snapshot", body: "done", atts: []runtime.Attachment{jpeg, gcode}, check: sent(3)},
		{name: "attachment_thread", url: "discord://" + hook + "?thread=9988", body: "", atts: []runtime.Attachment{jpeg}, check: sent(1)},
		{
			name: "bad_token", url: "discord://" + hook, body: "x",
			replies: []transporttest.Response{{Status: 401, Body: `{"message": "Invalid Webhook Token", "code": 50027}`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK || !res.Permanent || !strings.Contains(res.Error, "Invalid Webhook Token") {
					t.Errorf("result %+v, want a permanent failure with Discord's message", res)
				}
			},
		},
		{
			name: "bad_request", url: "discord://" + hook, body: "x",
			replies: []transporttest.Response{{Status: 400, Body: `{"message": "Cannot send an empty message", "code": 50006}`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK || !res.Permanent || !strings.Contains(res.Error, "Cannot send an empty message") {
					t.Errorf("result %+v, want a permanent failure with Discord's message", res)
				}
			},
		},
		{
			name: "server_error", url: "discord://" + hook, body: "x",
			replies: []transporttest.Response{{Status: 500, Body: `oops`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.Status != sdk.StatusRetry || res.Permanent {
					t.Errorf("result %+v, want retry", res)
				}
			},
		},
		{
			name: "rate_limited_long", url: "discord://" + hook, body: "x",
			replies: []transporttest.Response{{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: `{"message": "You are being rate limited.", "retry_after": 30.0, "global": false}`}},
			check: func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
				if res.Status != sdk.StatusRetry || res.RetryAfterS != 30 || !strings.Contains(res.Error, "rate limited") || len(reqs) != 1 {
					t.Errorf("result %+v after %d requests, want retry after 30 s", res, len(reqs))
				}
			},
		},
		{
			name: "rate_limited_short", url: "discord://" + hook, body: "x",
			replies: []transporttest.Response{
				{Status: 429, Header: map[string]string{"Retry-After": "1", "X-RateLimit-Reset-After": "0.2"}, Body: `{"message": "You are being rate limited.", "retry_after": 0.2}`},
				noContent,
			},
			check: sent(2),
		},
	}
	// One engine for all cases; each case reads the requests it caused.
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"discord.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(cap.Requests())
			cap.Reply(transporttest.Response{Status: 200, Body: "{}", Header: map[string]string{"Content-Type": "application/json"}})
			if tc.replies != nil {
				cap.Reply(tc.replies...)
			}
			res, err := transporttest.Send(t, eng, "discord", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body, BodyFormat: "text", NotifyType: "info"}, tc.atts...)
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
	if g, ok := eng.ForURL("https://discord.com/api/webhooks/" + hook); !ok || g.Name != "discord" {
		t.Errorf("native URL not routed to discord: %+v", g)
	}
	transporttest.RunValidate(t, eng, "discord", []transporttest.Validation{
		{URL: "discord://" + hook, Secret: "AbC", Redacted: "discord://1234567890/****", Hosts: "discord.com"},
		{URL: "discord://Voron@" + hook + "?format=markdown", Secret: "AbC", Redacted: "discord://Voron@1234567890/****", Hosts: "discord.com", Format: "markdown"},
		{URL: "https://discordapp.com/api/webhooks/" + hook + "/?thread=5", Secret: "AbC", Redacted: "discord://1234567890/****", Hosts: "discord.com", Format: "markdown", Options: map[string]string{"thread": "5"}},
		{URL: "discord://" + hook + "?url=https://x.example", Secret: "AbC", Redacted: "discord://1234567890/****", Hosts: "discord.com", Format: "markdown"},
		{URL: "discord://" + hook + "?format=html", Secret: "AbC", Redacted: "discord://1234567890/****", Hosts: "discord.com", Format: "html"},
		{URL: "discord://1234567890", Secret: "AbC", Err: "needs the webhook id and token"},
		{URL: "discord://" + hook + "?flags=-1", Secret: "AbC", Err: "flags=-1"},
		{URL: "discord://" + hook + "?flags=abc", Secret: "AbC", Err: "flags=abc"},
		{URL: "https://discord.com/api/webhooks/abc/def", Secret: "AbC", Err: "not a Discord webhook URL"},
		{URL: "discord://1234567890/AbC%zz", Secret: "AbC", Err: "invalid URL escape"},
	})
}
