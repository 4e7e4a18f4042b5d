package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

const t2token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func ok(body string) transporttest.Response {
	return transporttest.Response{Status: 200, Body: body, Header: map[string]string{"Content-Type": "application/json"}}
}

func status(code int, body string) transporttest.Response {
	return transporttest.Response{Status: code, Body: body, Header: map[string]string{"Content-Type": "application/json"}}
}

var (
	loginOK = ok(`{"access_token": "tok1", "home_server": "example.org", "user_id": "@bot:example.org", "device_id": "D1"}`)
	joinOK  = ok(`{"room_id": "!abc:example.org"}`)
	sentOK  = ok(`{"event_id": "$ev1"}`)
	uuidRE  = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	tsRE    = regexp.MustCompile(`"ts": [0-9.]+`)
)

// dump writes the requests made since index from, for one golden file.
func dump(c *transporttest.Capture, from int) []byte {
	out := uuidRE.ReplaceAll(c.DumpSince(from), []byte("UUID"))
	return tsRE.ReplaceAll(out, []byte(`"ts": TS`))
}

type step struct {
	name    string
	url     string
	title   string
	body    string
	atts    []runtime.Attachment
	replies []transporttest.Response
	want    string // "sent", "retry" or "permanent"
	wantErr string // substring of the result's error
}

// runSteps sends each step through one engine (so the KV store carries
// over) and compares all requests of the step with its golden file.
func runSteps(t *testing.T, redirect func(c *transporttest.Capture) map[string]string, steps []step) {
	t.Helper()
	cap := transporttest.NewCapture(t)
	var rd map[string]string
	if redirect != nil {
		rd = redirect(cap)
	}
	eng := engine(t, rd)
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			from := len(cap.Requests())
			cap.Reply(s.replies...)
			url := strings.ReplaceAll(s.url, "CAPTURE", cap.Host())
			res, err := transporttest.Send(t, eng, "matrix", sdk.SendRequest{URL: url, Title: s.title, Body: s.body}, s.atts...)
			if err != nil {
				t.Fatal(err)
			}
			got := "sent"
			switch {
			case res.Status == sdk.StatusRetry:
				got = "retry"
			case !res.OK && res.Permanent:
				got = "permanent"
			case !res.OK:
				got = "failed"
			}
			want := s.want
			if want == "" {
				want = "sent"
			}
			if got != want || !strings.Contains(strings.ReplaceAll(res.Error, cap.Host(), "CAPTURE"), s.wantErr) {
				t.Errorf("result %+v: want %s with error containing %q", res, want, s.wantErr)
			}
			transporttest.Golden(t, "testdata/"+s.name+".golden", dump(cap, from))
		})
	}
}

// TestLogin: a password login, the token cached for the second message
// (no login, room cached, transaction id 1), then a revoked token dropped
// and the login done once more.
func TestLogin(t *testing.T) {
	u := "matrix://bot:secret@CAPTURE/#printer:example.org"
	runSteps(t, nil, []step{
		{name: "login_first", url: u, title: "Print done", body: "benchy.gcode finished", replies: []transporttest.Response{loginOK, joinOK, sentOK}},
		{name: "login_second", url: u, body: "Second message", replies: []transporttest.Response{sentOK}},
		{name: "login_token_revoked", url: u, body: "Third", replies: []transporttest.Response{
			status(401, `{"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token passed.", "soft_logout": false}`),
			ok(`{"access_token": "tok2", "home_server": "example.org", "user_id": "@bot:example.org"}`), sentOK}},
		{name: "login_after_relogin", url: u, body: "Fourth", replies: []transporttest.Response{sentOK}},
	})
}

func TestServer(t *testing.T) {
	runSteps(t, nil, []step{
		{name: "token_room_id_html", url: "matrix://syt_TOKEN@CAPTURE/!abc:example.org?format=html&msgtype=notice",
			title: "Done <3", body: "<b>benchy</b> finished", replies: []transporttest.Response{joinOK, sentOK}},
		{name: "token_option_markdown", url: "matrix://CAPTURE/%23printer?token=syt_TOKEN&format=markdown",
			title: "Done & dusted", body: "**benchy** took `1h`\n\n- PLA\n- 0.2 mm", replies: []transporttest.Response{joinOK, sentOK}},
		{name: "attachments", url: "matrix://syt_TOKEN@CAPTURE/!abc:example.org", body: "Snapshot",
			atts: []runtime.Attachment{{Name: "snap.png", MIME: "image/png", Data: png}, {Name: "print log.txt", MIME: "text/plain", Data: []byte("log\n")}},
			// the room id is cached from the first step: no join
			replies: []transporttest.Response{ok(`{"content_uri": "mxc://example.org/img"}`), ok(`{"content_uri": "mxc://example.org/log"}`),
				sentOK, sentOK, sentOK}},
		{name: "joined_rooms", url: "matrix://syt_TOKEN@CAPTURE?mode=off", body: "To all rooms",
			replies: []transporttest.Response{ok(`{"joined_rooms": ["!one:example.org"]}`), ok(`{"room_id": "!one:example.org"}`), sentOK}},
		{name: "alias_created", url: "matrix://syt_TOKEN@CAPTURE/#newroom:example.org", body: "B",
			replies: []transporttest.Response{status(404, `{"errcode": "M_NOT_FOUND", "error": "Room alias not found"}`),
				ok(`{"room_id": "!new:example.org", "room_alias": "#newroom:example.org"}`), sentOK}},
		{name: "rate_limited_then_sent", url: "matrix://syt_TOKEN@CAPTURE/!abc:example.org", body: "B",
			replies: []transporttest.Response{status(429, `{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 20}`), sentOK}},
		{name: "rate_limited", url: "matrix://syt_TOKEN@CAPTURE/!abc:example.org", body: "B", want: "retry",
			wantErr: "rate limited (429): M_LIMIT_EXCEEDED: Too Many Requests",
			replies: []transporttest.Response{status(429, `{"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests", "retry_after_ms": 20}`)}},
		{name: "forbidden", url: "matrix://syt_TOKEN@CAPTURE/!other:example.org", body: "B", want: "permanent",
			wantErr: "matrix: room !other:example.org: HTTP 403: M_FORBIDDEN: User @bot:example.org not in room",
			replies: []transporttest.Response{ok(`{"room_id": "!other:example.org"}`), status(403, `{"errcode": "M_FORBIDDEN", "error": "User @bot:example.org not in room"}`)}},
		{name: "server_error", url: "matrix://syt_TOKEN@CAPTURE/!abc:example.org", body: "B", want: "retry",
			wantErr: "HTTP 502", replies: []transporttest.Response{status(502, `<html>Bad Gateway</html>`)}},
		{name: "login_refused", url: "matrix://bot:wrong@CAPTURE/#printer", body: "B", want: "permanent",
			wantErr: "matrix: login as bot failed: HTTP 403: M_FORBIDDEN: Invalid username or password",
			replies: []transporttest.Response{status(403, `{"errcode": "M_FORBIDDEN", "error": "Invalid username or password"}`),
				status(403, `{"errcode": "M_FORBIDDEN", "error": "Registration is disabled"}`)}},
		{name: "version2", url: "matrix://bot:secret@CAPTURE/#printer?v=2", title: "T", body: "B",
			replies: []transporttest.Response{loginOK, joinOK, sentOK}},
	})
}

// TestDiscovery: matrixs:// asks /.well-known/matrix/client first;
// matrix.org delegates to matrix-client.matrix.org, a manifest host.
func TestDiscovery(t *testing.T) {
	redirect := func(c *transporttest.Capture) map[string]string {
		return map[string]string{"matrix.org": c.URL, "matrix-client.matrix.org": c.URL, "vector.im": c.URL, "example.org": c.URL}
	}
	runSteps(t, redirect, []step{
		{name: "discovery_delegated", url: "matrixs://bot:secret@matrix.org/#printer:matrix.org", body: "B",
			replies: []transporttest.Response{
				ok(`{"m.homeserver": {"base_url": "https://matrix-client.matrix.org"}, "m.identity_server": {"base_url": "https://vector.im"}}`),
				ok(`{"versions": ["v1.11"]}`), ok(`{}`), loginOK, joinOK, sentOK}},
		{name: "discovery_cached", url: "matrixs://bot:secret@matrix.org/#printer:matrix.org", body: "B2", replies: []transporttest.Response{sentOK}},
		{name: "discovery_none", url: "matrixs://syt_TOKEN@example.org/!abc:example.org", body: "B",
			replies: []transporttest.Response{status(404, `not found`), joinOK, sentOK}},
		{name: "discovery_elsewhere", url: "matrixs://syt_OTHER@example.org/!abc:example.org", body: "B", want: "permanent",
			wantErr: "example.org delegates its client API to matrix.example.net",
			replies: []transporttest.Response{ok(`{"m.homeserver": {"base_url": "https://matrix.example.net/"}}`)}},
	})
}

func TestWebhooks(t *testing.T) {
	redirect := func(c *transporttest.Capture) map[string]string {
		return map[string]string{"webhooks.t2bot.io": c.URL}
	}
	runSteps(t, redirect, []step{
		{name: "t2bot_native", url: "https://webhooks.t2bot.io/api/v1/matrix/hook/" + t2token, title: "Done", body: "B",
			replies: []transporttest.Response{ok(`{}`)}},
		{name: "t2bot_scheme_image", url: "matrix://Printer@" + t2token + "?image=yes&format=html", title: "Done & <ok>", body: "<b>B</b>",
			replies: []transporttest.Response{ok(`{}`)}},
		{name: "hook_matrix_mode", url: "matrix://hooktoken@CAPTURE/?mode=matrix", title: "T", body: "B",
			replies: []transporttest.Response{ok(`{}`)}},
		{name: "hook_slack_mode", url: "matrix://bot:hooktoken@CAPTURE/?mode=slack&format=markdown", title: "T <1>", body: "a & b",
			replies: []transporttest.Response{ok(`{}`)}},
		{name: "hook_refused", url: "matrix://hooktoken@CAPTURE/?mode=matrix", body: "B", want: "permanent",
			wantErr: "Matrix webhook answered 404", replies: []transporttest.Response{status(404, `{"error": "unknown hook"}`)}},
	})
}

func TestValidate(t *testing.T) {
	eng := engine(t, nil)
	transporttest.RunValidate(t, eng, "matrix", []transporttest.Validation{
		{URL: "matrixs://bot:pw@matrix.org/#room", Secret: "pw", Redacted: "matrixs://bot:****@matrix.org/#room", Hosts: "matrix.org"},
		{URL: "https://webhooks.t2bot.io/api/v1/matrix/hook/" + t2token, Secret: t2token, Redacted: "matrixs://0123****/?mode=t2bot", Hosts: "webhooks.t2bot.io"},
		{URL: "matrixs://syt_token@matrix.org", ErrPrefix: `matrix: no room given and "matrix.org" is not a t2bot webhook id`},
		{URL: "matrixs://bot:pw@matrix.org/@someone:matrix.org", ErrPrefix: `matrix: "@someone:matrix.org" is a user; Apprise 1.9.8 sends only to rooms`},
		{URL: "matrixs://bot:pw@matrix.org/#room?msgtype=emote", ErrPrefix: `matrix: msgtype "emote" is not text or notice`},
		{URL: "matrixs://bot:pw@matrix.org/#room?mode=discord", ErrPrefix: `matrix: mode "discord" is not one of off, matrix, slack or t2bot`},
		{URL: "matrixs://bot:pw@matrix.org/#room?v=4", ErrPrefix: `matrix: version "4" is not 2 or 3`},
		{URL: "matrix://short?mode=t2bot", ErrPrefix: "matrix: the t2bot webhook id must be 64 letters and digits: matrix://WEBHOOK_ID"},
	})
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"**benchy** took `1h`\n\n- PLA\n- 0.2 mm", "<p><strong>benchy</strong> took <code>1h</code></p>\n<ul>\n<li>PLA</li>\n<li>0.2 mm</li>\n</ul>"},
		{"# Title\nline one\nline two", "<h1>Title</h1>\n<p>line one\nline two</p>"},
		{"a < b & [link](http://x.y/z)", `<p>a &lt; b &amp; <a href="http://x.y/z">link</a></p>`},
		{"*em* and _em_", "<p><em>em</em> and <em>em</em></p>"},
	}
	for _, tc := range tests {
		if got := markdownToHTML(tc.in); got != tc.want {
			t.Errorf("markdownToHTML(%q) =\n%q\nwant\n%q", tc.in, got, tc.want)
		}
	}
}

// engine loads this guest and compiles it before the first call: a guest
// whose manifest is cached from an earlier run is otherwise compiled inside
// the first call's deadline, which a -race run can overshoot.
func engine(t *testing.T, redirect map[string]string) *runtime.Engine {
	t.Helper()
	eng := transporttest.Engine(t, redirect, transporttest.Guest(t, "."))
	if err := eng.Warm(t.Context()); err != nil {
		t.Fatal(err)
	}
	return eng
}
