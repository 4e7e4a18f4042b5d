package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime"
	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

var png = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89")

func TestGolden(t *testing.T) {
	srv := transporttest.NewSMTP(t)
	eng := engine(t, nil)
	// The URL names example.com; ?smtp=127.0.0.1 points at the fake server.
	base := fmt.Sprintf("mailto://me:secret@example.com:%d", srv.Port)
	tests := []struct {
		name  string
		url   string
		title string
		body  string
		atts  []runtime.Attachment
		msgs  int // messages expected (one per To)
	}{
		{name: "plain", url: base + "?smtp=127.0.0.1", body: "Print finished", msgs: 1},
		{name: "title_html", url: base + "/owner@example.com?smtp=127.0.0.1", title: "Print done: benchy.gcode",
			body: "<b>Done</b> in 1h&nbsp;2m<br/>Layer 42 &amp; more<ul><li>PLA</li><li>0.2 mm</li></ul><p>Next   job</p>", msgs: 1},
		{name: "format_text", url: base + "/owner@example.com?smtp=127.0.0.1&format=text", title: "Done", body: "Line 1\r\nLine 2", msgs: 1},
		{name: "attachments", url: base + "/owner@example.com?smtp=127.0.0.1", title: "Snapshot", body: "See attached",
			atts: []runtime.Attachment{
				{Name: "snapshot.png", MIME: "image/png", Data: png},
				{Name: "print.log", MIME: "text/plain", Data: []byte("line one\nline two\n")},
			}, msgs: 1},
		{name: "from_name", url: base + "/owner@example.com?smtp=127.0.0.1&from=printer@example.com&name=Voron%202.4", title: "T", body: "B", msgs: 1},
		{name: "name_only", url: base + "?smtp=127.0.0.1&name=My%20Printer", title: "T", body: "B", msgs: 1},
		{name: "cc_bcc_reply", url: base + "/a@example.com/b@example.com?smtp=127.0.0.1&cc=c@example.com,Carol%20<d@example.com>&bcc=e@example.com&reply=r@example.com",
			title: "T", body: "B", msgs: 2},
		{name: "to_option_and_headers", url: base + "?smtp=127.0.0.1&to=Owner%20<owner@example.com>&+X-Printer=voron&+Priority=urgent", title: "T", body: "B", msgs: 1},
		{name: "non_ascii", url: base + "/owner@example.com?smtp=127.0.0.1&name=J%C3%B6rg", title: "Druck fertig: Würfel", body: "Schön", msgs: 1},
		{name: "user_option", url: fmt.Sprintf("mailto://example.com:%d/owner@example.com?smtp=127.0.0.1&user=bot&pass=pw", srv.Port), title: "T", body: "B", msgs: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.Messages())
			res, err := transporttest.Send(t, eng, "mailto", sdk.SendRequest{URL: tc.url, Title: tc.title, Body: tc.body}, tc.atts...)
			if err != nil || !res.OK {
				t.Fatalf("send: %v %+v", err, res)
			}
			msgs := srv.Messages()[before:]
			if len(msgs) != tc.msgs {
				t.Fatalf("%d messages, want %d", len(msgs), tc.msgs)
			}
			for i, m := range msgs {
				name := tc.name
				if i > 0 {
					name += fmt.Sprintf("_%d", i+1)
				}
				transporttest.Golden(t, "testdata/"+name+".golden", srv.Dump(m))
			}
		})
	}
}

// TestFailures maps SMTP answers: 5xx permanent with the server's text,
// 4xx retry; mailtos:// never sends credentials before STARTTLS.
func TestFailures(t *testing.T) {
	tests := []struct {
		name      string
		cmd       string
		reply     string
		url       string
		wantRetry bool
		wantErr   string
		wantConv  string
	}{
		{name: "wrong password", cmd: "AUTH", reply: "535 5.7.8 Username and Password not accepted",
			wantErr: "owner@example.com: SMTP server 127.0.0.1:PORT refused: AUTH: 535 5.7.8 Username and Password not accepted"},
		{name: "unknown recipient", cmd: "RCPT", reply: "550 5.1.1 No such user",
			wantErr: "owner@example.com: SMTP server 127.0.0.1:PORT refused: RCPT TO: 550 5.1.1 No such user"},
		{name: "greylisted", cmd: "DATA", reply: "451 4.7.1 Try again later", wantRetry: true,
			wantErr: "owner@example.com: SMTP server 127.0.0.1:PORT refused for now: DATA: 451 4.7.1 Try again later"},
		{name: "starttls refused", url: "mailtos://me:secret@example.com:PORT/owner@example.com?smtp=127.0.0.1", wantRetry: true,
			wantErr:  "owner@example.com: SMTP server 127.0.0.1:PORT refused for now: STARTTLS: 454 4.7.0 TLS not available",
			wantConv: "EHLO localhost|STARTTLS|QUIT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := transporttest.NewSMTP(t)
			if tc.cmd != "" {
				srv.Reply(tc.cmd, tc.reply)
			}
			port := fmt.Sprint(srv.Port)
			url := tc.url
			if url == "" {
				url = "mailto://me:secret@example.com:PORT/owner@example.com?smtp=127.0.0.1"
			}
			eng := engine(t, nil)
			res, err := transporttest.Send(t, eng, "mailto", sdk.SendRequest{URL: strings.ReplaceAll(url, "PORT", port), Title: "T", Body: "B"})
			if err != nil {
				t.Fatal(err)
			}
			gotErr := strings.ReplaceAll(res.Error, port, "PORT")
			if res.OK || (res.Status == sdk.StatusRetry) != tc.wantRetry || res.Permanent == tc.wantRetry || gotErr != tc.wantErr {
				t.Errorf("result %+v (error %q)\nwant retry=%v error %q", res, gotErr, tc.wantRetry, tc.wantErr)
			}
			if tc.wantConv != "" {
				if got := strings.Join(srv.Conversations()[0], "|"); got != tc.wantConv {
					t.Errorf("conversation %q, want %q", got, tc.wantConv)
				}
			}
		})
	}
}

// TestProviderRedirect: a gmail.com sender goes to smtp.gmail.com:587 with
// STARTTLS (here redirected to the fake server, which refuses TLS).
func TestProviderRedirect(t *testing.T) {
	srv := transporttest.NewSMTP(t)
	eng := engine(t, map[string]string{"smtp.gmail.com": "smtp://" + srv.Addr})
	res, err := transporttest.Send(t, eng, "mailto", sdk.SendRequest{URL: "mailto://me:app-password@gmail.com", Title: "T", Body: "B"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "me@gmail.com: SMTP server smtp.gmail.com:587 refused for now: STARTTLS: 454 4.7.0 TLS not available"; res.Error != want {
		t.Errorf("error %q, want %q", res.Error, want)
	}
	if got := strings.Join(srv.Conversations()[0], "|"); got != "EHLO localhost|STARTTLS|QUIT" {
		t.Errorf("conversation %q", got)
	}
}

func TestValidate(t *testing.T) {
	eng := engine(t, nil)
	tests := []struct {
		url     string
		wantErr string
		want    string // hosts and options when valid
	}{
		{url: "mailto://me:pw@gmail.com", want: "[smtp.gmail.com] from=me@gmail.com mode=starttls port=587 smtp=smtp.gmail.com"},
		{url: "mailtos://me:pw@example.com", want: "[example.com] from=me@example.com mode=starttls port=587 smtp=example.com"},
		{url: "mailtos://me:pw@example.com?mode=ssl", want: "[example.com] from=me@example.com mode=ssl port=465 smtp=example.com"},
		{url: "mailto://me:pw@example.com?smtp=mail.example.com&format=text", want: "[mail.example.com] format=text from=me@example.com mode=insecure port=25 smtp=mail.example.com"},
		{url: "mailto://example.com", wantErr: "mailto needs a sender address: mailto://USER:PASSWORD@example.com, or add ?from=you@example.com"},
		{url: "mailto://me:pw@example.com?mode=tls", wantErr: `mailto: mode "tls" is not one of starttls, ssl or insecure`},
		{url: "mailto://me:pw@example.com/not-an-address", wantErr: "mailto: no valid recipient address in the URL (mailto://USER:PASSWORD@example.com/to@example.com)"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			res, err := eng.Validate(t.Context(), "mailto", tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if res.Error != tc.wantErr || res.OK != (tc.wantErr == "") {
				t.Fatalf("result %+v, want error %q", res, tc.wantErr)
			}
			if res.OK {
				got := fmt.Sprint(res.Hosts)
				for _, k := range []string{"format", "from", "mode", "port", "smtp"} {
					if v, ok := res.Options[k]; ok {
						got += " " + k + "=" + v
					}
				}
				if got != tc.want {
					t.Errorf("got %s\nwant %s", got, tc.want)
				}
				if strings.Contains(res.RedactedURL, "pw") {
					t.Errorf("redacted URL %q shows the password", res.RedactedURL)
				}
			}
		})
	}
}

// TestProviders checks the provider table and login rules without a host.
func TestProviders(t *testing.T) {
	tests := []struct{ url, want string }{
		{"mailto://me:pw@gmail.com", "smtp.gmail.com:587 starttls user=me@gmail.com from=me@gmail.com"},
		{"mailto://me:pw@yandex.ru", "smtp.yandex.ru:465 ssl user=me from=me@yandex.ru"},
		{"mailto://me:pw@hotmail.com", "smtp-mail.outlook.com:587 starttls user=me@hotmail.com from=me@hotmail.com"},
		{"mailto://me:pw@outlook.com", "smtp.outlook.com:587 starttls user=me@outlook.com from=me@outlook.com"},
		{"mailto://me:pw@yahoo.com", "smtp.mail.yahoo.com:465 ssl user=me@yahoo.com from=me@yahoo.com"},
		{"mailto://me:pw@fastmail.com", "smtp.fastmail.com:465 ssl user=me@fastmail.com from=me@fastmail.com"},
		{"mailto://me:pw@gmail.com:2525?mode=ssl", "smtp.gmail.com:2525 ssl user=me@gmail.com from=me@gmail.com"},
		{"mailto://me:pw@gmail.com?smtp=relay.lan", "relay.lan:25 insecure user=me from=me@gmail.com"},
		{"mailto://localhost", "localhost:25 insecure user= from=root@localhost"},
		{"mailto://me:pw@example.com", "example.com:25 insecure user=me from=me@example.com"},
	}
	for _, tc := range tests {
		c, err := parseConfig(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		got := fmt.Sprintf("%s:%d %s user=%s from=%s", c.smtpHost, c.port, c.mode, c.user, c.from.addr)
		if got != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.url, got, tc.want)
		}
	}
}

// TestHTMLToText checks the plain-text alternative against what Apprise's
// converter gives for the same HTML.
func TestHTMLToText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Line&nbsp;1<br/>Line&nbsp;&nbsp;2", "Line 1\nLine 2"},
		{"<h1>Title</h1><p>Para   one</p><p>two</p>", "Title\nPara one\ntwo"},
		{"<ul><li>a</li><li>b</li></ul>", "- a\n- b"},
		{"a<hr>b", "a\n---\nb"},
		{"<style>p{}</style>x &amp; y", "x & y"},
		{"<!-- c -->1 < 2", "1 < 2"},
	}
	for _, tc := range tests {
		if got := htmlToText(tc.in); got != tc.want {
			t.Errorf("htmlToText(%q) = %q, want %q", tc.in, got, tc.want)
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
