package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

const tokens = "T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"

var okReply = transporttest.Response{Status: 200, Body: "ok", Header: map[string]string{"Content-Type": "text/html"}}

type sendCase struct {
	name, url, title, body string
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

func failed(permanent bool, status, text string) func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
	return func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
		t.Helper()
		if res.OK || res.Permanent != permanent || res.Status != status || !strings.Contains(res.Error, text) {
			t.Errorf("result %+v, want %s (permanent %v) mentioning %q", res, status, permanent, text)
		}
	}
}

// tsRE finds the footer time stamp, which is the time of sending.
var tsRE = regexp.MustCompile(`"ts": ([0-9]+\.[0-9]+)`)

func TestSend(t *testing.T) {
	rich := "benchy <done> & \"ok\" <!channel> <!here|now> <@U123|bob> <https://printer.local/?a=1&b=2|Mainsail> ✓"
	cases := []sendCase{
		{name: "title_body", url: "slack://" + tokens, title: "Print <complete> & done", body: rich, check: sent(1)},
		{name: "native_url", url: "https://hooks.slack.com/services/" + tokens, title: "T", body: "B", check: sent(1)},
		{name: "native_gov", url: "https://hooks.slack-gov.com/services/" + tokens + "/", title: "T", body: "B", check: sent(1)},
		{
			name: "channels", url: "slack://Voron@" + tokens + "/#general/@alice/+C0123?to=#prints:1712345678.123", title: "T", body: "B",
			check: sent(4),
		},
		{name: "no_image_no_footer", url: "slack://" + tokens + "?image=no&footer=no", title: "T", body: "B", check: sent(1)},
		{name: "no_timestamp", url: "slack://" + tokens + "?timestamp=no", title: "T", body: "B", check: sent(1)},
		{name: "blocks", url: "slack://" + tokens + "?blocks=yes", title: "Print complete", body: "*benchy* <done>", check: sent(1)},
		{name: "blocks_text_no_title", url: "slack://" + tokens + "/#prints?blocks=yes&format=text&image=no", body: "plain <text>", check: sent(1)},
		{name: "format_text", url: "slack://" + tokens + "?format=text", title: "a < b", body: "x < y & <!channel>", check: sent(1)},
		{name: "invalid_token", url: "slack://" + tokens, body: "x", replies: []transporttest.Response{{Status: 403, Body: "invalid_token"}}, check: failed(true, sdk.StatusFailed, "invalid_token")},
		{name: "no_service", url: "slack://" + tokens, body: "x", replies: []transporttest.Response{{Status: 404, Body: "no_service"}}, check: failed(true, sdk.StatusFailed, "no_service")},
		{name: "server_error", url: "slack://" + tokens, body: "x", replies: []transporttest.Response{{Status: 500, Body: "internal_error"}}, check: failed(false, sdk.StatusRetry, "internal_error")},
		{
			name: "rate_limited", url: "slack://" + tokens, body: "x", replies: []transporttest.Response{{Status: 429, Body: "rate_limited", Header: map[string]string{"Retry-After": "30"}}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.Status != sdk.StatusRetry || res.RetryAfterS != 30 {
					t.Errorf("result %+v, want retry after 30 s", res)
				}
			},
		},
		{name: "ok_body_required", url: "slack://" + tokens, body: "x", replies: []transporttest.Response{{Status: 200, Body: "{}"}}, check: failed(false, sdk.StatusFailed, "HTTP 200")},
	}
	// One engine for all cases; each case reads the requests it caused.
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"hooks.slack.com": cap.URL, "hooks.slack-gov.com": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(cap.Requests())
			cap.Reply(okReply)
			if tc.replies != nil {
				cap.Reply(tc.replies...)
			}
			before := time.Now()
			res, err := transporttest.Send(t, eng, "slack", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body, BodyFormat: "text", NotifyType: "info"})
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
			for _, m := range tsRE.FindAllSubmatch(dump.Bytes(), -1) {
				ts, _ := strconv.ParseFloat(string(m[1]), 64)
				if d := ts - float64(before.UnixNano())/1e9; d < -1 || d > 10 {
					t.Errorf("ts %s is not the time of sending (%v)", m[1], before)
				}
			}
			transporttest.Golden(t, "testdata/"+tc.name+".golden", tsRE.ReplaceAll(dump.Bytes(), []byte(`"ts": TS`)))
		})
	}
}

func TestValidate(t *testing.T) {
	eng := transporttest.Engine(t, nil, transporttest.Guest(t, "."))
	if g, ok := eng.ForURL("https://hooks.slack.com/services/" + tokens); !ok || g.Name != "slack" {
		t.Errorf("native URL not routed to slack: %+v", g)
	}
	transporttest.RunValidate(t, eng, "slack", []transporttest.Validation{
		{URL: "slack://" + tokens + "/#general", Secret: "TIiajk", Redacted: "slack://T1JJ3T3L2/****/****/#general", Hosts: "hooks.slack.com"},
		{URL: "slack://Voron@" + tokens + "?format=text", Secret: "TIiajk", Redacted: "slack://Voron@T1JJ3T3L2/****/****", Hosts: "hooks.slack.com", Format: "text"},
		{URL: "https://hooks.slack-gov.com/services/" + tokens, Secret: "TIiajk", Redacted: "slack://T1JJ3T3L2/****/****", Hosts: "hooks.slack-gov.com"},
		{URL: "slack://" + tokens + "?mode=gov", Secret: "TIiajk", Redacted: "slack://T1JJ3T3L2/****/****", Hosts: "hooks.slack-gov.com"},
		{URL: "slack://?token=" + tokens, Secret: "TIiajk", Redacted: "slack://T1JJ3T3L2/****/****", Hosts: "hooks.slack.com"},
		{URL: "slack://xoxb-1234-1234-abc124/#general", Err: "bot tokens"},
		{URL: "slack://" + tokens + "?mode=bot", Secret: "TIiajk", Err: "bot tokens"},
		{URL: "slack://" + tokens + "?mode=party", Secret: "TIiajk", Err: "mode=party"},
		{URL: "slack://T1JJ3T3L2/A1BRTD4JD", Err: "token 3 of 3"},
		{URL: "slack://T1JJ3T3L2/A1B-RTD4JD/abc", Err: "token 2 of 3"},
		{URL: "slack://" + tokens + "/bob@example.com", Secret: "TIiajk", Err: "e-mail"},
		{URL: "slack://" + tokens + "/%23bad.channel", Secret: "TIiajk", Err: `"#bad.channel"`},
		{URL: "https://hooks.slack.com/workflows/abc", Err: "not a Slack webhook URL"},
	})
}

func TestPyTime(t *testing.T) {
	for ns, want := range map[int64]string{1712345678123456700: "1712345678.1234567", 1712345678000000000: "1712345678.0", 1712345678500000000: "1712345678.5"} {
		if got := string(pyTime(ns)); got != want {
			t.Errorf("pyTime(%d) = %s, want %s", ns, got, want)
		}
	}
}
