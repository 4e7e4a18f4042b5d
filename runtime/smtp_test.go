package runtime

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// fakeSMTP is a minimal SMTP server on loopback: EHLO, AUTH PLAIN, MAIL,
// RCPT, DATA, QUIT. It records the conversation; replies maps a command
// line, or else its verb, to the reply that refuses it.
type fakeSMTP struct {
	addr    string
	replies map[string]string
	mu      sync.Mutex
	log     []string
	data    string
}

func newFakeSMTP(t *testing.T, replies map[string]string) *fakeSMTP {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f := &fakeSMTP{addr: ln.Addr().String(), replies: replies}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go f.serve(c)
		}
	}()
	return f
}

func (f *fakeSMTP) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	say := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
	say("220 fake ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.Fields(line + " x")[0])
		rec := line
		if verb == "AUTH" {
			f := strings.Fields(line)
			b, _ := base64.StdEncoding.DecodeString(f[len(f)-1])
			rec = "AUTH PLAIN " + strings.ReplaceAll(string(b), "\x00", "|")
		}
		f.mu.Lock()
		f.log = append(f.log, rec)
		f.mu.Unlock()
		if reply, ok := f.replies[line]; ok {
			say(reply)
			continue
		}
		if reply, ok := f.replies[verb]; ok {
			say(reply)
			continue
		}
		switch verb {
		case "EHLO":
			say("250-fake\r\n250 AUTH PLAIN")
		case "AUTH":
			say("235 2.7.0 ok")
		case "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil || l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			f.mu.Lock()
			f.data = b.String()
			f.mu.Unlock()
			say("250 2.0.0 queued")
		case "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func (f *fakeSMTP) seen() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.log, "\n"), f.data
}

func smtpRequest(host string, port int, user, pass string) []byte {
	b, _ := json.Marshal(sdk.SMTPRequest{Host: host, Port: port, TLS: sdk.SMTPTLSNone, Username: user, Password: pass,
		From: "printer@example.com", To: []string{"bad@example.com", "owner@example.com"}})
	return b
}

func TestSMTPSend(t *testing.T) {
	msg := []byte("Subject: done\r\n\r\nline\r\n.dot\r\n")
	tests := []struct {
		name     string
		replies  map[string]string
		userURL  string
		host     string
		noCap    bool
		wantCode int
		wantErr  string
		wantLog  string
	}{
		{name: "accepted, one recipient refused", replies: map[string]string{"RCPT TO:<bad@example.com>": "550 5.1.1 no such user"}, wantCode: 250},
		{name: "wrong password", replies: map[string]string{"AUTH": "535 5.7.8 Username and Password not accepted"},
			wantCode: 535, wantErr: "AUTH: 535 5.7.8 Username and Password not accepted",
			wantLog: "EHLO localhost\nAUTH PLAIN |me|secret\n*\nQUIT"},
		{name: "every recipient refused", replies: map[string]string{"RCPT": "550 5.1.1 no such user"},
			wantCode: 550, wantErr: "RCPT TO: 550 5.1.1 no such user"},
		{name: "host of the smtp option", userURL: "mailto://me:secret@example.com?smtp=127.0.0.1", wantCode: 250},
		{name: "host not allowed", host: "mail.evil.example", wantCode: 601,
			wantErr: "smtp mail.evil.example:PORT: host mail.evil.example is not allowed (allowed: 127.0.0.1)"},
		{name: "no smtp capability", noCap: true, wantCode: 607, wantErr: `smtp_send: the guest's manifest does not declare the "smtp" capability`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFakeSMTP(t, tc.replies)
			host, portS, _ := net.SplitHostPort(srv.addr)
			var port int
			for _, c := range portS {
				port = port*10 + int(c-'0')
			}
			userURL := tc.userURL
			if userURL == "" {
				userURL = "mailto://me:secret@" + srv.addr
			}
			cs := policyCall(t, nil, nil, nil, true, userURL, Limits{})
			cs.smtpAllowHosts(userURL)
			if !tc.noCap {
				cs.g.info.Capabilities = []string{"http", "smtp"}
			}
			if tc.host != "" {
				host = tc.host
			}
			code := cs.doSMTP(context.Background(), smtpRequest(host, port, "me", "secret"), msg)
			gotErr := strings.ReplaceAll(cs.lastErr, portS, "PORT")
			if code != tc.wantCode || (code != 250 && gotErr != tc.wantErr) {
				t.Fatalf("code %d, error %q\nwant %d, %q", code, gotErr, tc.wantCode, tc.wantErr)
			}
			if wantViolation := code == 601; (cs.violation != "") != wantViolation {
				t.Errorf("violation = %q, want one: %v", cs.violation, wantViolation)
			}
			log, data := srv.seen()
			if tc.wantLog != "" && log != tc.wantLog {
				t.Errorf("conversation:\n%s\nwant:\n%s", log, tc.wantLog)
			}
			if code == 250 {
				want := "EHLO localhost\nAUTH PLAIN |me|secret\nMAIL FROM:<printer@example.com>\nRCPT TO:<bad@example.com>\nRCPT TO:<owner@example.com>\nDATA\nQUIT"
				if log != want {
					t.Errorf("conversation:\n%s\nwant:\n%s", log, want)
				}
				if data != "Subject: done\r\n\r\nline\r\n..dot\r\n" {
					t.Errorf("data %q (want the message dot-stuffed)", data)
				}
			}
		})
	}
}

// TestEchoSMTP drives smtp_send from a real guest: echo's mail=yes sends
// to the URL's own (loopback) host; mail=HOST:PORT to a host the URL does
// not name is refused with 601 and fails the call as a policy violation.
func TestEchoSMTP(t *testing.T) {
	srv := newFakeSMTP(t, nil)
	e := newEngine(t, Options{}, map[string]string{"echo": guestWasm(t, echoDir)})
	ctx := context.Background()
	req := sdk.SendRequest{URL: "echo://" + srv.addr + "/?mail=yes", Title: "T", Body: "B"}
	res, err := e.Send(ctx, "echo", req, Call{Scope: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"title":"T","body":"B","smtp_code":250}`; !res.OK || res.Info != want {
		t.Errorf("result = %+v, want info %s", res, want)
	}
	if _, data := srv.seen(); data != "From: echo@example.com\r\nTo: owner@example.com\r\nSubject: T\r\n\r\nB\r\n" {
		t.Errorf("data %q", data)
	}

	req.URL = "echo://" + srv.addr + "/?mail=mail.evil.example:25"
	_, err = e.Send(ctx, "echo", req, Call{Scope: "a"})
	if err == nil || !strings.Contains(err.Error(), "policy violation: smtp mail.evil.example:25: host mail.evil.example is not allowed (allowed: 127.0.0.1)") {
		t.Errorf("err = %v, want a policy violation", err)
	}
}
