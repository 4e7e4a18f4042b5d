package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

const token = "123456789:ABCdef_ghi-JKL"

var (
	jpeg    = runtime.Attachment{Name: "snapshot.jpg", MIME: "image/jpeg", Data: []byte("\xff\xd8\xffJPEGDATA\x00\x01")}
	gcode   = runtime.Attachment{Name: "benchy.gcode", MIME: "text/x-gcode", Data: []byte("G28\nG1 X10\n")}
	okReply = transporttest.Response{Status: 200, Body: `{"ok":true,"result":{"message_id":7}}`, Header: map[string]string{"Content-Type": "application/json"}}
)

// sendCase is one delivery and the requests it must make (testdata/NAME.golden).
type sendCase struct {
	name       string
	url        string
	body       string
	bodyFormat string
	atts       []runtime.Attachment
	replies    []transporttest.Response
	check      func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request)
}

func sent(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
	t.Helper()
	if !res.OK || res.Status != sdk.StatusSent {
		t.Errorf("result %+v, want sent", res)
	}
}

func TestSend(t *testing.T) {
	cases := []sendCase{
		{name: "plain", url: "tgram://" + token + "/12345", body: "Benchy finished", check: sent},
		{
			// The host merged the title as Apprise does for HTML services
			// and converted the text body to HTML.
			name: "title_body", url: "tgram://" + token + "/12345",
			body:  "<b>Print complete</b><br />\r\nbenchy.gcode&nbsp;took&nbsp;1h&nbsp;&lt;3&gt;&nbsp;&amp;&nbsp;&quot;ok&quot;<br/>line&nbsp;two",
			check: sent,
		},
		{
			name: "markdown_input_rewritten", url: "tgram://" + token + "/12345", bodyFormat: "markdown",
			body:  "<b>Done</b><br />\r\n<h1>Report</h1>\n<p>Layer <strong>42</strong> of <em>80</em></p>\n<ul>\n<li>nozzle 210</li>\n<li>bed 60</li>\n</ul>\n<!-- hidden -->",
			check: sent,
		},
		{
			name: "options_several_chats", url: "tgram://bot" + token + "/555:9/@mychannel/-100123?silent=yes&preview=yes&topic=7&to=777",
			body: "hello", check: func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
				sent(t, res, reqs)
				if len(reqs) != 4 {
					t.Errorf("%d requests, want one per chat (4)", len(reqs))
				}
			},
		},
		{name: "format_markdown_v1", url: "tgram://" + token + "/12345?format=markdown", bodyFormat: "markdown", body: "*Done* in 1h_2m", check: sent},
		{name: "format_markdown_v2_text_input", url: "tgram://" + token + "/12345?format=markdown&mdv=v2", bodyFormat: "text", body: "# Done! (100%) a_b \\_c", check: sent},
		{name: "thread_alias", url: "tgram://" + token + "/12345?thread=42", body: "in a topic", check: sent},
		{
			name: "photo_caption", url: "tgram://" + token + "/12345", body: "<b>Done</b><br />\r\nsnapshot",
			atts: []runtime.Attachment{jpeg}, replies: []transporttest.Response{okReply},
			check: func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
				sent(t, res, reqs)
				if len(reqs) != 1 || !strings.HasSuffix(reqs[0].Path, "/sendPhoto") {
					t.Errorf("want one sendPhoto carrying the caption, got %d requests", len(reqs))
				}
				if !bytes.Contains(reqs[0].Body, jpeg.Data) {
					t.Error("photo bytes not sent as is")
				}
			},
		},
		{
			name: "photo_and_document", url: "tgram://" + token + "/12345?content=after", body: "short",
			atts: []runtime.Attachment{jpeg, gcode}, check: sent,
		},
		{
			// Over the 1024-character caption limit: text first, then files.
			name: "long_body_before", url: "tgram://" + token + "/12345", body: strings.Repeat("x", 1100),
			atts: []runtime.Attachment{gcode}, check: func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
				sent(t, res, reqs)
				if len(reqs) != 2 || !strings.HasSuffix(reqs[0].Path, "/sendMessage") || !strings.HasSuffix(reqs[1].Path, "/sendDocument") {
					t.Errorf("want sendMessage then sendDocument")
				}
			},
		},
		{
			name: "long_body_after", url: "tgram://" + token + "/12345?content=after", body: strings.Repeat("y", 1100),
			atts: []runtime.Attachment{jpeg}, check: func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
				sent(t, res, reqs)
				if len(reqs) != 2 || !strings.HasSuffix(reqs[0].Path, "/sendPhoto") || !strings.HasSuffix(reqs[1].Path, "/sendMessage") {
					t.Errorf("want sendPhoto then sendMessage")
				}
			},
		},
		{
			name: "detect_owner", url: "tgram://" + token + "/", body: "who owns me",
			replies: []transporttest.Response{
				{Status: 200, Body: `{"ok":true,"result":[{"update_id":1,"message":{"message_id":1,"from":{"id":532389719,"is_bot":false,"first_name":"Chris"},"chat":{"id":532389719},"text":"/start"}}]}`},
				okReply,
			},
			check: func(t *testing.T, res *sdk.SendResult, reqs []transporttest.Request) {
				sent(t, res, reqs)
				if len(reqs) != 2 || !strings.HasSuffix(reqs[0].Path, "/getUpdates") {
					t.Errorf("want getUpdates then sendMessage")
				}
			},
		},
		{
			name: "chat_not_found", url: "tgram://" + token + "/999",
			body:    "hello",
			replies: []transporttest.Response{{Status: 400, Body: `{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK || !res.Permanent || !strings.Contains(res.Error, "Bad Request: chat not found") {
					t.Errorf("result %+v, want a permanent failure naming the chat", res)
				}
			},
		},
		{
			name: "server_error", url: "tgram://" + token + "/999", body: "hello",
			replies: []transporttest.Response{{Status: 502, Body: `Bad Gateway`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK || res.Status != sdk.StatusRetry || res.Permanent {
					t.Errorf("result %+v, want retry", res)
				}
			},
		},
		{
			name: "rate_limited", url: "tgram://" + token + "/999", body: "hello",
			replies: []transporttest.Response{{Status: 429, Header: map[string]string{"Retry-After": "30"},
				Body: `{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 30","parameters":{"retry_after":30}}`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.Status != sdk.StatusRetry || res.RetryAfterS != 30 || !strings.Contains(res.Error, "Too Many Requests") {
					t.Errorf("result %+v, want retry after 30 s", res)
				}
			},
		},
		{
			name: "ok_false", url: "tgram://" + token + "/999", body: "hello",
			replies: []transporttest.Response{{Status: 200, Body: `{"ok":false,"description":"something odd"}`}},
			check: func(t *testing.T, res *sdk.SendResult, _ []transporttest.Request) {
				if res.OK || !strings.Contains(res.Error, "something odd") {
					t.Errorf("result %+v, want a failure", res)
				}
			},
		},
	}
	// One engine for all cases; each case reads the requests it caused.
	cap := transporttest.NewCapture(t)
	eng := transporttest.Engine(t, map[string]string{"api.telegram.org": cap.URL}, transporttest.Guest(t, "."))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := len(cap.Requests())
			cap.Reply(transporttest.Response{Status: 200, Body: "{}", Header: map[string]string{"Content-Type": "application/json"}})
			if tc.replies != nil {
				cap.Reply(tc.replies...)
			}
			bf := tc.bodyFormat
			if bf == "" {
				bf = "text"
			}
			res, err := transporttest.Send(t, eng, "tgram", sdk.SendRequest{URL: tc.url, Body: tc.body, BodyFormat: bf, NotifyType: "info"}, tc.atts...)
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
	transporttest.RunValidate(t, eng, "tgram", []transporttest.Validation{
		{URL: "tgram://" + token + "/12345/-100987", Secret: "ABCdef", Redacted: "tgram://123456789:****/12345/-100987", Hosts: "api.telegram.org"},
		{URL: "tgram://" + token + "/12345?format=markdown&mdv=v2", Secret: "ABCdef", Redacted: "tgram://123456789:****/12345", Hosts: "api.telegram.org", Format: "markdown", Options: map[string]string{"mdv": "v2"}},
		{URL: "tgram://" + token + "/12345?format=bogus", Secret: "ABCdef", Redacted: "tgram://123456789:****/12345", Hosts: "api.telegram.org"},
		{URL: "tgram://" + token, Secret: "ABCdef", Redacted: "tgram://123456789:****", Hosts: "api.telegram.org", Options: map[string]string{"detect": "yes"}},
		{URL: "tgram://" + token + "?detect=no", Secret: "ABCdef", Err: "needs a chat id"},
		{URL: "tgram://12345/67890", Secret: "ABCdef", Err: "needs a bot token"},
		{URL: "tgram://abc:def/12345", Secret: "ABCdef", Err: "needs a bot token"},
		{URL: "tgram://" + token + "/bad.chat", Secret: "ABCdef", Err: `chat "bad.chat" is not a chat id`},
		{URL: "tgram://" + token + "/12345?topic=abc", Secret: "ABCdef", Err: "topic"},
		{URL: "tgram://" + token + "/12345?content=middle", Secret: "ABCdef", Err: "content=middle"},
	})
}

func TestTelegramHTML(t *testing.T) {
	for _, tc := range []struct {
		in     string
		markup bool
		want   string
	}{
		{"<b>T</b><br />\r\nB", false, "<b>T</b>\r\nB"},
		{"a&nbsp;b&emsp;c&apos;d&quot;e", false, "a b   c'd\"e"},
		{"<h2>H</h2><p>x</p>", true, "\r\n<b>H</b>\r\nx\r\n"},
		{"<h2>H</h2>x", false, "<b>H</b>x"},
		{"<pre>code</pre>", false, "<pre>code</pre>"},
		{"\u00a0<p>\u2003x\u3000</p>\u00a0y<br>\x1c", false, "x\r\ny\r\n"},
	} {
		if got := telegramHTML(tc.in, tc.markup); got != tc.want {
			t.Errorf("telegramHTML(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := escapeMarkdownV2(`a_b \_c (x).`); got != `a\_b \_c \(x\)\.` {
		t.Errorf("escapeMarkdownV2 = %q", got)
	}
}
